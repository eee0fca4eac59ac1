"""The ``verify --lock`` fast path reads a lockfile without ``re`` (its fields taken by
position, checked, then the pins rendered again and compared with the text): every
lock it takes is one ``lockfile.format.load`` takes with the same pins, and every pin a
field of which is out of the form — even in a lock whose rendering and digest agree with
it — is left to the full path. And the path imports neither ``re`` nor the ``sqlite3``
package (``enum`` and ``datetime`` with them): a third of its own start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli import ok, write
from toolvault.errors import ToolvaultError
from toolvault.fastcli import verifylock
from toolvault.fastcli.base import Fallback
from toolvault.fastcli.verifylock import Pin
from toolvault.lockfile import format as lockformat
from toolvault.lockfile.format import MAX_SIZE, MAX_TOOLS

SHA = "0123456789abcdef" * 4
SOURCE = "/home/ana/.toolvault"


def pin(
    name: str = "fmt",
    number: int = 1,
    sha: str = SHA,
    size: int = 12,
    executable: bool = True,
    source: str = SOURCE,
) -> Pin:
    """A pin as the fast path holds it."""
    return (name, number, sha, size, executable, source)


def consistent(tmp_path: Path, pins: list[Pin]) -> str:
    """A lock of these pins in the fast path's own rendering, with their own digest: only
    the checks of the fields themselves can refuse it."""
    digest = verifylock.sha256(verifylock.content(pins)).hexdigest()
    path = tmp_path / "toolvault.lock"
    path.write_text(verifylock.render(pins, digest), encoding="utf-8")
    return str(path)


def full_path_takes(path: str) -> lockformat.Lock | None:
    """The lock as ``format.load`` reads it, None when it refuses it."""
    try:
        return lockformat.load(path)
    except ToolvaultError:  # InvalidInput, IntegrityError: refused with one line
        return None


@pytest.mark.parametrize(
    "pins",
    [
        [pin(name="")],
        [pin(name=".fmt")],
        [pin(name="_fmt")],
        [pin(name="-fmt")],
        [pin(name="f:mt")],
        [pin(name="f mt")],
        [pin(name="f/mt")],
        [pin(name="fmté")],
        [pin(name="fmt\u0661")],  # a digit, but not an ASCII one
        [pin(name="f" * 129)],
        [pin(name="b"), pin(name="a")],  # not by name
        [pin(name="a"), pin(name="a", number=2)],  # pinned twice
        [pin(number=0)],
        [pin(number=-1)],
        [pin(number=10**18)],  # 19 digits
        [pin(sha=SHA.upper())],
        [pin(sha=SHA[:-1])],
        [pin(sha=SHA + "0")],
        [pin(sha=SHA[:-1] + "g")],
        [pin(sha=SHA[:-1] + "\u0660")],
        [pin(size=-1)],
        [pin(size=MAX_SIZE + 1)],
        [pin(source="")],
        [pin(source='a"b')],
        [pin(source="a\\b")],
        [pin(source="a\x7fb")],
        [pin(source="a\tb")],  # TOML takes a raw tab: tomllib's to read, not this path's
        [pin(source="a\x00b")],
        [pin(source="a\rb")],
        [pin(source="a\nb")],
        [pin(source="s" * 4097)],
        [pin(name="a"), pin(name="b", source="x\x1bb")],  # only the second source is wrong
    ],
    ids=repr,
)
def test_a_field_out_of_the_form_falls_back(tmp_path: Path, pins: list[Pin]) -> None:
    path = consistent(tmp_path, pins)
    with pytest.raises(Fallback):
        verifylock.read_lock(path)


@pytest.mark.parametrize(
    "pins",
    [
        [],
        [pin(name="f" * 128)],
        [pin(name="0.a_b-c"), pin(name="Z9"), pin(name="a")],
        [pin(number=10**18 - 1)],
        [pin(size=0), pin(name="g", size=MAX_SIZE, executable=False)],
        [pin(source="s" * 4096)],
        [pin(source="/home/zoé/€/𝄞 'q' \u2028 \x85")],  # JSON and TOML keep them as they are
        [pin(source="https://vault.example:8443/x?y=1#z")],
    ],
    ids=repr,
)
def test_a_lock_at_the_edges_of_the_form_is_read_as_format_load_reads_it(
    tmp_path: Path, pins: list[Pin]
) -> None:
    path = consistent(tmp_path, pins)
    lock = full_path_takes(path)
    assert lock is not None
    assert lockformat.render(lock) == Path(path).read_bytes()  # its own form, byte for byte
    expected = [(p.name, p.version, p.sha256, p.size, p.executable, p.source) for p in lock.pins]
    assert verifylock.read_lock(path) == expected


def test_more_pins_than_format_load_takes_fall_back(tmp_path: Path) -> None:
    """format.load refuses a lock of more than MAX_TOOLS pins: the fast path does not
    serve one (it fits well within MAX_BYTES)."""
    pins = [pin(name=f"t{i:06d}") for i in range(MAX_TOOLS + 1)]
    path = consistent(tmp_path, pins)
    assert os.path.getsize(path) < verifylock.MAX_BYTES
    with pytest.raises(ToolvaultError, match="more than 50,000 tools"):
        lockformat.load(path)
    with pytest.raises(Fallback):
        verifylock.read_lock(path)
    assert len(verifylock.read_lock(consistent(tmp_path, pins[:MAX_TOOLS]))) == MAX_TOOLS


def test_the_copied_bound_matches() -> None:
    assert verifylock.MAX_TOOLS == MAX_TOOLS


# -- what the path imports ----------------------------------------------------------------

LIST_MODULES = "sys.stderr.write('\\n'.join(sorted(sys.modules)))"


def modules_after(code: str, env: dict[str, str]) -> set[str]:
    """The modules a fresh interpreter holds after ``code`` (listed without importing
    anything more: json would bring re)."""
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\n{LIST_MODULES}"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    return set(proc.stderr.decode().split("\n"))


def test_verify_lock_imports_neither_re_nor_the_sqlite3_package(tmp_path: Path, home: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    ok("add", str(write(src / "fmt", "#!/bin/sh\necho one\n")))
    lock = tmp_path / "toolvault.lock"
    ok("lock", "fmt", "-o", str(lock))
    ok("install", "--lock", str(lock), "--into", str(tmp_path / "into"))
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    env.pop("TOOLVAULT_URL", None)
    argv = ["toolvault", "verify", "--lock", str(lock), "--into", str(tmp_path / "into")]
    code = (
        f"sys.argv = {argv!r}\nfrom toolvault.main import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code\n"
        "assert 'toolvault.fastcli.verifylock' in sys.modules and 'click' not in sys.modules"
    )
    loaded = modules_after(code, env) - modules_after("pass", env)  # not what Python starts with
    assert "_sqlite3" in loaded  # the vault was read
    assert not loaded & {"re", "enum", "sqlite3", "datetime", "hashlib", "importlib"}, loaded
