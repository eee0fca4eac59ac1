"""The home folder and its optional ``config.toml``."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolvault.errors import InvalidInput

DEFAULT_MAX_SIZE = 1024 * 1024


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """``home``, else ``$TOOLVAULT_HOME``, else ``~/.toolvault``."""
    if home is not None:
        if not isinstance(home, str | os.PathLike):
            raise InvalidInput(
                f"the vault's home must be a folder path (str or Path), not {type(home).__name__}"
            )
        return Path(home).expanduser()
    env = os.environ.get("TOOLVAULT_HOME")
    return Path(env).expanduser() if env else Path.home() / ".toolvault"


def make_home(path: Path, then: Callable[[], None] | None = None) -> None:
    """Create the home folder, then call ``then`` (which makes what goes in it: the
    commands/ tree). Its parent must exist: a mistyped --home is refused rather than
    made into a tree of folders; a home that cannot be written is a clean error."""
    if not path.exists() and not path.parent.is_dir():
        raise InvalidInput(
            f"cannot create a vault in {path}: the folder {path.parent} does not exist; "
            "create it first, or choose another --home"
        )
    try:
        path.mkdir(exist_ok=True)
        if then is not None:
            then()
    except OSError as exc:
        raise InvalidInput(
            f"cannot create a vault in {path}: {exc.strerror or exc} ({exc.filename}); "
            "choose a --home you can write to"
        ) from None


@dataclass(frozen=True, slots=True)
class Config:
    """Settings read from ``config.toml``; every key is optional."""

    owner: str
    max_tool_size: int = DEFAULT_MAX_SIZE
    sign_with: str | None = None
    require_signatures: bool = False
    # [sources]: URL prefixes imports may come from (None: any), and the prefixes
    # whose packs must be signed.
    sources_allow: tuple[str, ...] | None = None
    sources_signed: tuple[str, ...] = ()
    # [packs]: how big a pack may be (a whole-vault backup may need more).
    pack_max_members: int = 10_000
    pack_max_unpacked: int = 64 * 1024 * 1024
    raw: tuple[tuple[str, Any], ...] = ()

    def raw_get(self, key: str, default: Any = None) -> Any:
        """A top-level key of config.toml as written."""
        return dict(self.raw).get(key, default)

    @property
    def download_deadline(self) -> float:
        """``[sources] download_deadline``: the seconds a whole download may take."""
        from toolvault.sources.urls import DEFAULT_DEADLINE

        sources = self.raw_get("sources")
        value = sources.get("download_deadline", DEFAULT_DEADLINE) if sources else None
        if value is None:
            return DEFAULT_DEADLINE
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
            raise InvalidInput(
                "config.toml: [sources] download_deadline must be a positive number of "
                f"seconds, e.g. 60, not {value!r}"
            )
        return float(value)

    def source_needs_signature(self, url: str) -> bool:
        """Whether packs from ``url`` must be signed (vault-wide or by prefix)."""
        from toolvault.sources.urls import under

        return self.require_signatures or under(url, self.sources_signed)

    @classmethod
    def load(cls, home: Path) -> Config:
        """Read ``<home>/config.toml`` if it exists, checking the known keys."""
        path = home / "config.toml"
        data: dict[str, Any] = {}
        if path.exists():
            import tomllib

            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"{path} is not valid TOML: {exc}") from exc
        owner = data.get("owner") or os.environ.get("TOOLVAULT_OWNER") or _user()
        size = data.get("max_tool_size", DEFAULT_MAX_SIZE)
        if not isinstance(owner, str):
            raise InvalidInput(f'{path}: owner must be a string, e.g. owner = "alice"')
        _check_owner(owner, data, path)
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise InvalidInput(f"{path}: max_tool_size must be a positive number of bytes")
        sign_with = data.get("sign_with")
        if sign_with is not None and not isinstance(sign_with, str):
            raise InvalidInput(f'{path}: sign_with must name a key, e.g. sign_with = "laptop"')
        require = data.get("require_signatures", False)
        if not isinstance(require, bool):
            raise InvalidInput(f"{path}: require_signatures must be true or false")
        allow, signed = _sources(data.get("sources", {}), path)
        members, unpacked = _packs(data.get("packs", {}), path)
        return cls(
            owner, size, sign_with, require, allow, signed, members, unpacked, tuple(data.items())
        )


def _packs(table: Any, path: Path) -> tuple[int, int]:
    if not isinstance(table, dict):
        raise InvalidInput(f"{path}: [packs] must be a table")
    members = table.get("max_members", 10_000)
    unpacked = table.get("max_unpacked_bytes", 64 * 1024 * 1024)
    for key, value in (("max_members", members), ("max_unpacked_bytes", unpacked)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise InvalidInput(f"{path}: [packs] {key} must be a positive whole number")
    return members, unpacked


def _sources(table: Any, path: Path) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    if not isinstance(table, dict):
        raise InvalidInput(f"{path}: [sources] must be a table")
    allow = table.get("allow")
    signed = table.get("require_signatures", [])
    for key, value in (("allow", allow), ("require_signatures", signed)):
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise InvalidInput(
                f'{path}: [sources] {key} must be a list of URL prefixes, e.g. ["https://…"]'
            )
    return (None if allow is None else tuple(allow)), tuple(signed or ())


def _check_owner(owner: str, data: dict[str, Any], path: Path) -> None:
    """The default owner obeys the owner rule whichever of three places it came from."""
    from toolvault import validate

    where = str(path) if data.get("owner") else "TOOLVAULT_OWNER"
    if not data.get("owner") and not os.environ.get("TOOLVAULT_OWNER"):
        where = "your login name (set owner in config.toml)"
    validate.text(validate.OWNER, owner, where)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
