"""Write commands: add and rollback."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from toolvault import spec as specs
from toolvault.cli import expect, textfiles
from toolvault.cli._common import emit_json, json_option, note, obj, wants_json, warn
from toolvault.cli.completion import complete_name
from toolvault.errors import InvalidInput
from toolvault.models import Published
from toolvault.sources.files import read_regular, read_stream
from toolvault.vault import NewVersion, Vault

if TYPE_CHECKING:
    from toolvault.client import RemoteVault


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--name", help="Tool name (default: the file name without extension).")
@click.option("--owner", help="Owner of a new tool (default: owner in config.toml or $USER).")
@click.option("--origin", help="Where the content came from (default: the file's path).")
@click.option("-m", "--message", help="Why this version exists.")
@textfiles.message_file_option
@click.option("--created-by", help="Author or agent (default: the local identity).")
@click.option("--session", "session_id", help="Session id of the agent that wrote it.")
@click.option("--prompt", help="The prompt that produced it.")
@textfiles.prompt_file_option
@click.option("--description", help="One paragraph saying what it does (default: its header's).")
@click.option("--usage", help="How to call it, as --help would say (default: its header's).")
@click.option("--usage-file", metavar="FILE", help="Read the usage from FILE ('-': stdin).")
@click.option(
    "--ref",
    "refs",
    multiple=True,
    metavar="SPEC",
    help="A tool version this one was based on (repeatable; stored exactly).",
)
@click.option(
    "--allow-dangling",
    is_flag=True,
    help="Store a --ref that does not resolve as written instead of refusing it.",
)
@click.option("--transform", "transforms", multiple=True, help="A transform tag (repeatable).")
@click.option(
    "--sign",
    "sign",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[KEY]",
    help="Sign the new versions with KEY (alone: sign_with from config.toml, or the only key).",
)
@expect.expect_options
@json_option
def add(
    paths: tuple[str, ...],
    name: str | None,
    owner: str | None,
    origin: str | None,
    message: str | None,
    message_file: str | None,
    created_by: str | None,
    session_id: str | None,
    prompt: str | None,
    prompt_file: str | None,
    description: str | None,
    usage: str | None,
    usage_file: str | None,
    refs: tuple[str, ...],
    allow_dangling: bool,
    transforms: tuple[str, ...],
    sign: str | None,
    as_json: bool,
) -> None:
    """Publish files as new versions; '-' reads stdin (needs --name).

    A directory publishes each regular file in it (hidden files excepted), named
    by its file name without extension. Content equal to a tool's latest makes
    no new version, and records none of the provenance given with it (a note says
    so). Several paths are published in one transaction: all or none.
    """
    message, prompt = _long_texts(paths, message, message_file, prompt, prompt_file, usage_file)
    usage = textfiles.usage(usage, usage_file)
    sources = collect(paths, name)
    given = {
        "--origin": origin,
        "--message-file" if message_file else "-m": message,
        "--created-by": created_by,
        "--session": session_id,
        "--prompt-file" if prompt_file else "--prompt": prompt,
        "--ref": refs,
        "--transform": transforms,
        "--description": description,
        "--usage-file" if usage_file else "--usage": usage,
    }
    provenance = dict(
        owner=owner,
        message=message,
        created_by=created_by,
        session_id=session_id,
        prompt=prompt,
        description=description,
        usage=usage,
        references=refs,
        transforms=transforms,
        allow_dangling=allow_dangling,
    )
    items = [
        NewVersion(tool, data, executable=exe, source=where, origin=origin or where, **provenance)  # type: ignore[arg-type]
        for tool, data, exe, where in sources
    ]
    results = _publish(items, sign, refs if allow_dangling else ())
    not_recorded([r for r in results if not r.created], [k for k, v in given.items() if v])
    render_published(results, as_json)


def _publish(
    items: list[NewVersion], sign: str | None, dangling: tuple[str, ...]
) -> list[Published]:
    """Publish in one transaction, warning of each reference in ``dangling`` (those given
    with --allow-dangling) that resolves to nothing."""
    items = expect.expecting(items)  # --expect-latest / --expect-new, if given
    vault = obj().service(create=True)
    key = _key_name(vault, sign) if isinstance(vault, Vault) else sign
    unresolved = _dangling(vault, dangling)
    results = vault.publish_many(items, sign_with=key)
    for ref in unresolved:
        warn(f"reference '{ref}' does not resolve; stored as written (--allow-dangling)")
    expect.warn_of(results)
    return results


def _long_texts(
    paths: tuple[str, ...],
    message: str | None,
    message_file: str | None,
    prompt: str | None,
    prompt_file: str | None,
    usage_file: str | None = None,
) -> tuple[str | None, str | None]:
    """The message and prompt, given inline or read from their files (stdin at most once,
    the usage file's included)."""
    stdin = {"PATH": "-" if "-" in paths else None, "--prompt-file": prompt_file}
    textfiles.stdin_once({**stdin, "--message-file": message_file, "--usage-file": usage_file})
    return textfiles.message(message, message_file), textfiles.prompt(prompt, prompt_file)


def not_recorded(unchanged: list[Published], flags: list[str]) -> None:
    """Say on stderr that provenance given with unchanged content was dropped (SPEC §11):
    no version was made, so there is nothing it could be recorded on."""
    if not unchanged or not flags:
        return
    which = ", ".join(f"{r.name}:{r.version}" for r in unchanged)
    note(
        f"{which} unchanged (same content as the latest), so no new version: "
        f"{', '.join(flags)} not recorded"
    )


def claimed(results: list[Published]) -> None:
    """Say on stderr that the daemon recorded its token's principal as the author and
    kept the --created-by given as claimed_by (SPEC §11)."""
    for r in results:
        if r.claimed_by is not None:
            note(
                f"{r.name}:{r.version}: the daemon records its token's principal as "
                f"created_by; --created-by {r.claimed_by} is kept as claimed_by"
            )


def _dangling(vault: Vault | RemoteVault, refs: tuple[str, ...]) -> list[str]:
    """The references that resolve to nothing in this vault (malformed ones still fail)."""
    from toolvault.errors import NotFound

    found = []
    for ref in refs:
        try:
            vault.get(ref)
        except NotFound:
            found.append(ref)
    return found


def _key_name(vault: Vault, sign: str | None) -> str | None:
    """``--sign KEY`` names the key; a bare ``--sign`` takes the configured or only one."""
    if sign is None:
        return None  # the vault falls back on sign_with from config.toml
    if sign or vault.config.sign_with:
        return sign or vault.config.sign_with
    found = vault.keys.list()
    if len(found) != 1:
        have = ", ".join(k.name for k in found) or "none; create one with 'toolvault keys generate'"
        raise InvalidInput(f"--sign needs a key name: keys are {have}")
    return found[0].name


def collect(
    paths: tuple[str, ...], name: str | None, limit: int | None = None
) -> list[tuple[str, bytes, bool, str]]:
    """Read every source before anything is written: (name, content, exec bit, origin).
    Only regular files and standard input are read, each up to ``limit`` bytes (default:
    see :func:`read_limit`)."""
    limit = read_limit() if limit is None else limit
    if name is not None:
        specs.validate_name(name)
        if len(paths) != 1:
            raise InvalidInput("--name names one tool; give exactly one PATH with it")
    found: list[tuple[str, bytes, bool, str]] = []
    for raw in paths:
        if raw == "-":
            if name is None:
                raise InvalidInput("reading a tool from stdin ('-') needs --name NAME")
            found.append((name, read_stream(sys.stdin.buffer, limit, "stdin"), False, "stdin"))
            continue
        path = Path(raw)
        if path.is_dir():
            if name is not None:
                raise InvalidInput(f"--name cannot name every file of the folder {raw}")
            found += [_read(p, p.stem, limit) for p in _folder(path)]
        elif path.is_file():
            found.append(_read(path, name or path.stem, limit))
        elif path.exists():
            raise InvalidInput(f"{raw} is not a regular file or folder")
        else:
            raise InvalidInput(f"{raw}: no such file or folder")
    _no_duplicates(found)
    return found


def _folder(path: Path) -> list[Path]:
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InvalidInput(f"folder {path} holds no tool files")
    return files


def read_limit() -> int:
    """The most bytes ``add`` reads of one source: the local vault's max_tool_size.
    A daemon (TOOLVAULT_URL) applies its own limit, so there REMOTE_READ_LIMIT only
    keeps an endless source from filling memory."""
    if os.environ.get("TOOLVAULT_URL"):
        return REMOTE_READ_LIMIT
    from toolvault.config import Config, resolve_home

    return Config.load(resolve_home(obj().home)).max_tool_size


REMOTE_READ_LIMIT = 64 * 1024 * 1024


def _read(path: Path, tool: str, limit: int) -> tuple[str, bytes, bool, str]:
    try:
        specs.validate_name(tool)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}; rename the file or give --name") from None
    data, info = read_regular(path, limit)
    return tool, data, bool(info.st_mode & 0o111), str(path.resolve())


def _no_duplicates(found: list[tuple[str, bytes, bool, str]]) -> None:
    seen: dict[str, str] = {}
    for tool, _, _, where in found:
        if tool in seen and where != "stdin":
            raise InvalidInput(
                f"{seen[tool]} and {where} would both publish tool '{tool}'; "
                "publish them separately or rename one"
            )
        seen[tool] = where


def render_published(results: list[Published], as_json: bool) -> None:
    """Print publish results: one line each, or the JSON list of SPEC §5; a note for
    each whose author the daemon kept as claimed_by."""
    claimed(results)
    if wants_json(as_json):
        emit_json([r.to_dict() for r in results])
        return
    for r in results:
        state = "published" if r.created else "unchanged"
        click.echo(f"{r.name}:{r.version}  {state}  sha256:{r.sha256[:12]}")


@click.command()
@click.argument("name", shell_complete=complete_name)
@click.argument("version", metavar="V")
@click.option("-m", "--message", help="Why the rollback.")
@textfiles.message_file_option
@json_option
def rollback(
    name: str, version: str, message: str | None, message_file: str | None, as_json: bool
) -> None:
    """Publish version V's content again as a new version (history only moves forward).

    V is a version number or any selector of NAME (previous, -2, a label…).
    """
    text = textfiles.message(message, message_file)
    do_rollback(obj().service(), specs.parse_name(name), version, text, as_json)


def do_rollback(
    vault: Vault | RemoteVault, name: str, selector: str, message: str | None, as_json: bool
) -> None:
    """Shared by ``rollback`` and ``versions NAME rollback V``."""
    target = vault.get(f"{name}:{selector}")
    result = vault.rollback(name, target.version, message=message)
    not_recorded([] if result.created else [result], ["the message"] if message else [])
    if wants_json(as_json):
        emit_json(result.to_dict())
    elif result.created:
        click.echo(f"{name}:{result.version}  published  rollback of version {target.version}")
    else:
        click.echo(
            f"{name}:{result.version}  unchanged  already has the content of "
            f"version {target.version}"
        )
