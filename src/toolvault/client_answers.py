"""What :class:`~toolvault.client.RemoteVault` holds a daemon's answers to before anything
reads them.

A daemon that is not toolvault, a broken one or a hostile one may answer JSON of any
shape: ``null``, a list where an object belongs, a number where a string does, ``[``
nested a hundred thousand deep. Read as it came, such an answer surfaced as ``internal
error: KeyError: 'name'`` far from the request. Here it becomes one
:class:`~toolvault.errors.ToolvaultError` naming the daemon and the request: every
public method of the client is wrapped (:func:`reads_answers`), and the answers the
client hands on as they came (``describe``, listings, ``refs``, webhooks) are checked
against the fields their readers index (:func:`check` and the shapes below).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from toolvault import errors

# What reading an answer of the wrong shape raises (RecursionError: JSON nested too deep).
READ_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError)

C = TypeVar("C", bound=type)
NONE = type(None)
OPT_STR = (str, NONE)
OPT_INT = (int, NONE)

# The fields of a version that the command line indexes (older daemons send them all).
VERSION: dict[str, Any] = {
    "name": str,
    "version": int,
    "sha256": str,
    "size": int,
    "executable": bool,
    "created_at": str,
    "created_by": OPT_STR,
    "message": OPT_STR,
    "rollback_of": OPT_INT,
    "references": [str],
    "transforms": [str],
}
LISTED = VERSION  # ``yanked`` is read with .get(): a daemon from before yanks sends none
DESCRIBED: dict[str, Any] = {
    **VERSION,
    "signature_status": str,
    "yanked": OPT_STR,
    "labels": [str],
    "tool": {
        "owner": str,
        "lifecycle": str,
        "lifecycle_message": OPT_STR,
        "latest_version": OPT_INT,
        "versions": int,
    },
}
REFERENCES: dict[str, Any] = {
    "version": str,
    "references": [{"ref": str, "status": str, "resolved": OPT_STR}],
}
REFERENCED_BY: dict[str, Any] = {
    "version": str,
    "referenced_by": [{"name": str, "version": int, "via": str, "exact": bool}],
}
HOOK: dict[str, Any] = {
    "id": str,
    "url": str,
    "events": [str],
    "tools": [str],
    "signing": str,
    "state": str,
    "public_key": OPT_STR,
}
DELIVERY: dict[str, Any] = {
    "id": str,
    "state": str,
    "attempts": int,
    "last_status": OPT_INT,
    "last_error": OPT_STR,
    "tried": [{"at": str}],
}

EVENT: dict[str, Any] = {k: object for k in ("seq", "at", "actor", "type", "ref", "tool")}


def check(data: Any, shape: Any, where: str = "the answer") -> Any:
    """``data`` itself if it has ``shape`` (a type or tuple of types, a dict of the keys
    it must have, or ``[shape]`` for a list of such items); :class:`TypeError` saying
    where it does not."""
    if isinstance(shape, dict):
        if not isinstance(data, dict):
            raise TypeError(f"{where} is {_kind(data)}, not an object")
        for key, inner in shape.items():
            if key not in data:
                raise TypeError(f"{where} has no {key!r}")
            check(data[key], inner, f"{where}.{key}")
    elif isinstance(shape, list):
        if not isinstance(data, list):
            raise TypeError(f"{where} is {_kind(data)}, not a list")
        for i, item in enumerate(data):
            check(item, shape[0], f"{where}[{i}]")
    elif not isinstance(data, shape) or (isinstance(data, bool) and shape in (int, OPT_INT)):
        raise TypeError(f"{where} is {_kind(data)}")
    return data


def _kind(data: Any) -> str:
    return "null" if data is None else type(data).__name__


def unreadable(url: str, asked: str, exc: BaseException) -> errors.ToolvaultError:
    """The error for an answer this client cannot read."""
    why = "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)
    return errors.ToolvaultError(
        f"the daemon at {url} answered {asked} with something this client does not read "
        f"({why}); is TOOLVAULT_URL a toolvault daemon of this version?",
        {"url": url, "request": asked},
    )


def reads_answers(cls: C) -> C:
    """Wrap every public method of ``cls`` (and of its mixins): an answer of the wrong
    shape read in it becomes :func:`unreadable` (a ToolvaultError passes as it is)."""
    for klass in reversed(cls.__mro__[:-1]):
        for name, member in vars(klass).items():
            if not name.startswith("_") and inspect.isfunction(member):
                setattr(cls, name, _wrapped(member))
    return cls


def _wrapped(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def streamed(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(self, *args, **kwargs)
            except READ_ERRORS as exc:
                raise _error(self, exc) from None

        return streamed

    @functools.wraps(method)
    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except READ_ERRORS as exc:
            raise _error(self, exc) from None

    return read


def _error(client: Any, exc: BaseException) -> errors.ToolvaultError:
    if isinstance(exc, UnicodeEncodeError):  # the caller's text, before any request
        return not_text(exc)
    return unreadable(client.url, getattr(client, "_asked", "a request"), exc)


def not_text(exc: UnicodeEncodeError) -> errors.InvalidInput:
    """The error for an argument that cannot go into a request: a lone surrogate, which
    is how Python holds a command-line byte that is not UTF-8 (a daemon never answers
    with one: a body is decoded, not encoded)."""
    return errors.InvalidInput(
        f"{exc.object!r} holds a character that is not UTF-8 text at position {exc.start} "
        "(a byte that is not UTF-8, or an unpaired surrogate); give it in UTF-8",
        {"position": exc.start},
    )


MAX_ANSWER = 1 << 30  # bytes of one answer, at most (fastremote.MAX_BODY: the same cap)


def read_body(resp: Any, url: str, asked: str) -> bytes:
    """The body of ``resp`` (an ``http.client.HTTPResponse``), read only up to
    MAX_ANSWER: a daemon streaming without end is cut off with an error, not held in
    memory to the last byte. A body that ends before its Content-Length still raises
    ``http.client.IncompleteRead``, as ``read()`` does."""
    if resp.length is not None and resp.length <= MAX_ANSWER:
        body: bytes = resp.read()
        return body
    body = b"" if resp.length is not None else resp.read(MAX_ANSWER + 1)
    if resp.length is None and len(body) <= MAX_ANSWER:
        return body
    resp.close()  # the rest is never read: the connection cannot be used again
    raise errors.ToolvaultError(
        f"the daemon at {url} answered {asked} with more than {MAX_ANSWER:,} bytes; "
        "nothing was read from it. Is TOOLVAULT_URL a toolvault daemon?",
        {"url": url, "request": asked, "limit": MAX_ANSWER},
    )
