"""The daemon's maintainer endpoints (SPEC §11): list, grant and revoke who besides a
tool's owner may publish, roll back, label and deprecate it.

Included by :func:`toolvault.server.app.create_app`; like every route there, each one
takes the vault acting for the token's principal and calls one service method (which
checks that the principal owns the tool or is an admin).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from toolvault.server.app import CONFLICT, ERRORS, Credentials, Name, as_json, guard
from toolvault.server.schemas import Body

router = APIRouter(responses={**ERRORS, **CONFLICT})


class GrantRequest(Body):
    """Make a principal a maintainer of the tool."""

    principal: str = Field(description="A token's principal.", examples=["bob"])


class GrantOut(BaseModel):
    """A maintainer of a tool: who, since when, granted by whom."""

    name: str
    principal: str
    granted_at: str
    granted_by: str


class GrantMade(GrantOut):
    """A grant; ``created`` is false when the principal was a maintainer already."""

    created: bool


class GrantRevoked(GrantOut):
    """The grant that was revoked."""

    revoked: bool


Principal = Annotated[str, Path(description="A maintainer's principal.", examples=["bob"])]


@router.get(
    "/v1/tools/{name}/grants",
    summary="The maintainers of a tool",
    response_model=list[GrantOut],
)
def list_grants(request: Request, creds: Credentials, name: Name) -> JSONResponse:
    """The shape of ``grants NAME --json``, by principal."""
    vault = guard(request).reader(creds)
    return as_json([g.to_dict() for g in vault.grants(name)])


@router.post(
    "/v1/tools/{name}/grants",
    summary="Make a principal a maintainer (owner or admin)",
    response_model=GrantMade,
)
def grant(request: Request, creds: Credentials, name: Name, body: GrantRequest) -> JSONResponse:
    """A maintainer may publish, roll back, label and deprecate the tool; transfer,
    retire, yank and grants stay with the owner and admins."""
    made = guard(request).writer(creds).grant(name, body.principal)
    return as_json({**made.to_dict(), "created": made.created})


@router.delete(
    "/v1/tools/{name}/grants/{principal:path}",
    summary="Take a maintainer's rights away (owner or admin)",
    response_model=GrantRevoked,
)
def revoke(request: Request, creds: Credentials, name: Name, principal: Principal) -> JSONResponse:
    """The principal is back to no rights on the tool; 404 when it was no maintainer."""
    revoked = guard(request).writer(creds).revoke(name, principal)
    return as_json({**revoked.to_dict(), "revoked": True})
