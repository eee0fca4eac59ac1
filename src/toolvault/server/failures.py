"""How the daemon answers a failure: one JSON shape, ``{"error": {"code", "message",
"details"}}``, with the codes of :mod:`toolvault.errors` (SPEC §11), for toolvault's
own errors, a request FastAPI refused, an unknown route and anything unexpected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from toolvault.errors import ToolvaultError
from toolvault.server import hot

STATUS_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


def install(app: FastAPI) -> None:
    """Answer every failure of ``app`` in the one error shape."""
    app.add_exception_handler(ToolvaultError, _toolvault_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal_error)


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    """The one error shape (:func:`hot.error_rendered`), with ``headers`` added."""
    response = hot.error_rendered(status, code, message, details).response()
    response.headers.update(headers or {})
    return response


async def _toolvault_error(request: Request, exc: ToolvaultError) -> Response:
    return error_response(exc.http_status, exc.code, str(exc), details=exc.details)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        why = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            at = err["loc"][-1] if len(err.get("loc", ())) > 1 else "?"
            where = "body"
            why = f"not valid JSON at character {at} ({err.get('ctx', {}).get('error', '?')})"
        if tuple(err.get("loc", ())) == ("body",) and str(err.get("type")).endswith("_type"):
            why += " (send a JSON object with Content-Type: application/json)"
        parts.append(f"{where}: {why}")
    return error_response(400, "invalid_input", "invalid request: " + "; ".join(parts))


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = STATUS_CODES.get(exc.status_code, "http_error")
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path} (see /openapi.json)"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return hot.internal_error(exc).response()
