"""The daemon: ``serve``, and the bearer tokens it accepts (``token create/list/revoke``).

FastAPI and uvicorn (the ``server`` extra) are imported inside ``serve`` only.
Token commands act on the local database (``--db`` / ``TOOLVAULT_DB`` for a
shared PostgreSQL), never through a daemon: whoever can open the database is admin.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from toolvault.cli._common import emit_json, json_option, local_only, obj, table, wants_json
from toolvault.errors import InvalidInput, ToolvaultError

F = TypeVar("F", bound=Callable[..., Any])

# What serve prints on stderr, then its URL, once it listens (cli/served.py waits for it).
SERVING = "toolvault: serving on "


def db_option(func: F) -> F:
    """``--db URL``: a PostgreSQL vault instead of HOME/vault.db."""
    return click.option(
        "--db",
        metavar="URL",
        help="postgresql://USER@HOST:PORT/DB (default $TOOLVAULT_DB, else HOME/vault.db).",
    )(func)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=4242,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port; 0 picks a free one (the line on stderr says which).",
)
@db_option
@click.option("--public-read", is_flag=True, help="Serve reads without a token (writes need one).")
@click.option("--access-log", is_flag=True, help="Log every request to stderr.")
def serve(host: str, port: int, db: str | None, public_read: bool, access_log: bool) -> None:
    """Run the HTTP daemon: the JSON API under /v1, /commands/NAME:SEL, /openapi.json.

    Writes need a bearer token ('toolvault token create'); reads too, unless
    --public-read. Prints 'toolvault: serving on URL' on stderr once it listens.
    """
    local_only(obj().home)  # a daemon serves its own vault, never the one at TOOLVAULT_URL
    try:
        import uvicorn  # noqa: F401 -- fail here, with the extra to install, if missing

        from toolvault.server import create_app
    except ImportError as exc:
        raise ToolvaultError(
            f"'toolvault serve' needs FastAPI and uvicorn ({exc.name} is missing): "
            "pip install 'toolvault[server]'"
        ) from None
    sock = listen(host, port)  # a busy port is refused before a vault is created
    vault = obj().open(create=True, db=db)
    app = create_app(vault, public_read=public_read, hosts=[host])
    from toolvault.events import worker

    deliveries = worker.start(vault)  # webhooks (SPEC §15), in a thread beside the server
    bound = sock.getsockname()
    where = f"[{bound[0]}]" if sock.family == socket.AF_INET6 else bound[0]
    click.echo(f"{SERVING}http://{where}:{bound[1]}", err=True)
    sys.stderr.flush()
    try:
        run_server(app, sock, access_log=access_log)
    finally:
        if deliveries is not None:
            deliveries.stop.set()


def run_server(app: Any, sock: socket.socket, *, access_log: bool = False) -> None:
    """Serve ``app`` on a listening socket with the daemon's uvicorn settings until
    SIGINT or SIGTERM (bench/daemon.py serves its floor app through this too).

    uvicorn's HTTP parser and event loop are its defaults ("auto"): httptools and
    uvloop, which the ``server`` extra installs, else its pure-Python h11 and asyncio.
    Objects made before serving are frozen out of garbage collection (``gc.freeze``)."""
    import gc

    import uvicorn

    # What start-up made (the app, its routes and models, the imported modules) lives as
    # long as the server: frozen, the collector no longer rescans it, so a full collection
    # during a burst of requests does not stall them for milliseconds.
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        lifespan="auto",  # the daemon's MCP session manager runs in it
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: a free one), listening already, so
    that clients may connect as soon as its address is printed."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise InvalidInput(f"cannot listen on {host!r}: {exc.strerror}; give an address") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ToolvaultError(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port "
            "(0 picks a free one)"
        ) from None
    return sock


@click.group()
def token() -> None:
    """Bearer tokens for the daemon: create, list, revoke (stored hashed)."""


@token.command("create")
@click.option("--principal", required=True, help="Who the token acts for (owner, audit actor).")
@click.option("--admin", is_flag=True, help="May change any tool, and the trust store.")
@click.option("--read-only", is_flag=True, help="May read only.")
@db_option
@json_option
def token_create(
    principal: str, admin: bool, read_only: bool, db: str | None, as_json: bool
) -> None:
    """Make a token; its secret is printed once, and only its hash is kept."""
    if admin and read_only:
        raise InvalidInput("--admin and --read-only exclude each other; choose one")
    made, secret = (
        obj().open(create=True, db=db).create_token(principal, admin=admin, read_only=read_only)
    )
    if wants_json(as_json):
        emit_json({**made.to_dict(), "secret": secret})
        return
    click.echo(f"token {made.id} for {principal} ({_rights(admin, read_only)})")
    click.echo(secret)
    click.echo("the secret is shown this once; give it as Authorization: Bearer <secret>", err=True)


@token.command("list")
@db_option
@json_option
def token_list(db: str | None, as_json: bool) -> None:
    """List tokens (never their secrets), revoked ones too."""
    tokens = obj().open(db=db).tokens()
    if wants_json(as_json):
        emit_json([t.to_dict() for t in tokens])
        return
    rows = [
        [t.id, t.principal, _rights(t.admin, t.read_only), t.created_at, t.revoked_at or "-"]
        for t in tokens
    ]
    table(rows, ["ID", "PRINCIPAL", "RIGHTS", "CREATED", "REVOKED"])


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@db_option
@json_option
def token_revoke(token_id: str, db: str | None, as_json: bool) -> None:
    """Revoke a token: requests presenting it get 401 from now on."""
    revoked = obj().open(db=db).revoke_token(token_id)
    if wants_json(as_json):
        emit_json(revoked.to_dict())
    else:
        click.echo(f"token {revoked.id} of {revoked.principal} revoked at {revoked.revoked_at}")


def _rights(admin: bool, read_only: bool) -> str:
    return "admin" if admin else "read-only" if read_only else "read-write"
