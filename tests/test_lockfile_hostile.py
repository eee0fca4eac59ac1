"""Hostile lockfiles and hostile install folders: refused in one line, nothing installed,
no link ever followed, nothing outside the folder touched."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from toolvault.cli import cli
from toolvault.errors import ToolvaultError
from toolvault.lockfile.format import Lock, load, render

FMT = "#!/bin/sh\necho fmt\n"
CSV = "print('csv')\n"
SHA = hashlib.sha256(FMT.encode()).hexdigest()
OTHER = hashlib.sha256(b"other").hexdigest()


def tv(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args])


def ok(home: Path, *args: str) -> Result:
    result = tv(home, *args)
    assert result.exit_code == 0, (args, result.output)
    return result


def one_line(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolvault: error: "), result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.output
    return lines[0]


@pytest.fixture
def lock(tmp_path: Path, home: Path) -> Path:
    """A sound lock of fmt:1 (executable) and csvsum:1 in ``home``'s vault."""
    for name, text in (("fmt", FMT), ("csvsum", CSV)):
        src = tmp_path / name
        src.write_text(text)
        ok(home, "add", str(src))
        src.unlink()
    path = tmp_path / "toolvault.lock"
    ok(home, "lock", "fmt", "csvsum", "-o", str(path))
    return path


def tool_entry(ref: str) -> str:
    return f'\n[[tool]]\nref = "{ref}"\nsize = 1\nexecutable = false\nsource = "x"\n'


def swap(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return edit


FMT_REF = f'ref = "fmt:1@sha256:{SHA}"'
NESTED = 100_000

# (what is wrong, how the sound lock's text is changed, words the error says)
BAD_LOCKS: list[tuple[str, Callable[[str], str], str]] = [
    ("a newer format", swap('"toolvault-lock/1"', '"toolvault-lock/2"'), "lock format"),
    ("no format", swap('format = "toolvault-lock/1"\n', ""), "lock format None"),
    ("format a number", swap('"toolvault-lock/1"', "1"), "lock format 1"),
    ("ref climbing out", swap(FMT_REF, f'ref = "../evil:1@sha256:{SHA}"'), "not a pinned ref"),
    ("ref absolute", swap(FMT_REF, f'ref = "/etc/passwd:1@sha256:{SHA}"'), "not a pinned ref"),
    ("ref with a slash", swap(FMT_REF, f'ref = "bin/fmt:1@sha256:{SHA}"'), "not a pinned ref"),
    ("ref dot-dot", swap(FMT_REF, f'ref = "..:1@sha256:{SHA}"'), "not a pinned ref"),
    ("ref hidden", swap(FMT_REF, f'ref = ".fmt:1@sha256:{SHA}"'), "not a pinned ref"),
    ("ref version 0", swap(FMT_REF, f'ref = "fmt:0@sha256:{SHA}"'), "not a pinned ref"),
    ("ref leading zero", swap(FMT_REF, f'ref = "fmt:01@sha256:{SHA}"'), "not a pinned ref"),
    ("ref upper hex", swap(FMT_REF, f'ref = "fmt:1@sha256:{SHA.upper()}"'), "not a pinned ref"),
    ("ref short hash", swap(FMT_REF, f'ref = "fmt:1@sha256:{SHA[:12]}"'), "not a pinned ref"),
    ("ref no number", swap(FMT_REF, f'ref = "fmt@sha256:{SHA}"'), "not a pinned ref"),
    ("ref a selector", swap(FMT_REF, 'ref = "fmt:latest"'), "not a pinned ref"),
    ("ref newline", swap(FMT_REF, f'ref = "fmt:1@sha256:{SHA}\\n"'), "not a pinned ref"),
    ("ref a number", swap(FMT_REF, "ref = 5"), "not a pinned ref"),
    ("ref missing", swap(FMT_REF + "\n", ""), "not a pinned ref"),
    ("duplicate tool", lambda t: t + tool_entry(f"fmt:2@sha256:{OTHER}"), "pinned twice"),
    ("unknown tool field", swap(FMT_REF, FMT_REF + '\nurl = "http://x"'), "unknown field"),
    ("unknown top field", lambda t: "extra = 1\n" + t, "unknown field"),
    ("negative size", swap("size = 19", "size = -1"), "size must be"),
    ("size a boolean", swap("size = 19", "size = true"), "size must be"),
    ("size past reason", swap("size = 19", "size = 9999999999999999999"), "size must be"),
    ("executable a text", swap("executable = true", 'executable = "yes"'), "executable must"),
    ("signer malformed", swap(FMT_REF, FMT_REF + '\nsigner = "ABC"'), "signer must"),
    ("source empty", lambda t: re.sub(r'source = ".*"', 'source = ""', t, count=1), "source must"),
    ("signature half", lambda t: t + '\n[signature]\nkey_id = "0123456789abcdef"\n', "[signature]"),
    ("tool not a table list", swap("[[tool]]", "[tool]"), "not valid TOML"),
    ("not TOML", lambda t: t + "\nformat = \n", "not valid TOML"),
    ("NUL in a text", swap('source = "', 'source = "\x00'), "not valid TOML"),
    ("nested bomb", lambda t: "x = " + "[" * NESTED + "]" * NESTED + "\n" + t, "nested"),
    ("huge integer", lambda t: "x = " + "9" * 5000 + "\n" + t, "lockfile"),
    ("over 16 MiB", lambda t: t + ("#" * 1023 + "\n") * 16_500, "over 16 MiB"),
    ("no digest", lambda t: "\n".join(x for x in t.splitlines() if "digest" not in x), "digest"),
    ("digest of other pins", swap("size = 19", "size = 20"), "does not match its pins"),
    ("pin hash changed", swap(SHA, OTHER), "does not match its pins"),
]


@pytest.mark.parametrize(("case", "edit", "says"), BAD_LOCKS, ids=[c[0] for c in BAD_LOCKS])
def test_a_bad_lockfile_is_refused_in_one_line_and_nothing_is_installed(
    tmp_path: Path, home: Path, lock: Path, case: str, edit: Callable[[str], str], says: str
) -> None:
    lock.write_text(edit(lock.read_text()))
    into = tmp_path / "into"
    digest = says == "does not match its pins"
    line = one_line(
        tv(home, "install", "--lock", str(lock), "--into", str(into)), 1 if digest else 2
    )
    assert says in line and str(lock) in line, line
    assert not into.exists()
    line = one_line(tv(home, "verify", "--lock", str(lock)), 1 if digest else 2)
    assert says in line
    assert {p.name for p in tmp_path.iterdir()} == {"home", "toolvault.lock"}  # nothing else


def test_a_lockfile_that_is_no_file_is_refused_without_blocking(tmp_path: Path) -> None:
    """Run as a process with a timeout: a FIFO read without O_NONBLOCK would hang."""
    home = tmp_path / "home"
    fifo, folder = tmp_path / "fifo.lock", tmp_path / "folder.lock"
    os.mkfifo(fifo)
    folder.mkdir()
    for path, says in ((fifo, "not a regular file"), (folder, "not a regular file")):
        done = subprocess.run(
            [sys.executable, "-m", "toolvault", "--home", str(home), "verify", "--lock", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and says in done.stderr, done.stderr
    line = one_line(tv(home, "verify", "--lock", str(tmp_path / "absent.lock")), 2)
    assert "no lockfile at" in line and "toolvault lock" in line


def forged(lock: Path, **changes: object) -> None:
    """Rewrite the lock with fmt's pin changed and a digest that matches: what someone
    who can edit the lock and recompute its digest makes."""
    parsed = load(str(lock))
    pins = tuple(
        dataclasses.replace(p, **changes) if p.name == "fmt" else p  # type: ignore[arg-type]
        for p in parsed.pins
    )
    lock.write_bytes(render(Lock(pins)))


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"sha256": OTHER}, "the lock pins"),
        ({"size": 10**12}, "the lock says 1000000000000"),
        ({"executable": False}, "is executable; the lock says otherwise"),
        ({"version": 7}, "there is no version 7"),
        ({"signer": "0123456789abcdef"}, "is not signed"),
    ],
)
def test_a_forged_pin_with_a_matching_digest_still_fails_its_check(
    tmp_path: Path, home: Path, lock: Path, changes: dict[str, object], says: str
) -> None:
    forged(lock, **changes)
    into = tmp_path / "into"
    line = one_line(tv(home, "install", "--lock", str(lock), "--into", str(into)), 1)
    assert says in line and "nothing was installed" in line
    assert not into.exists()
    result = tv(home, "verify", "--lock", str(lock), "--json")
    assert result.exit_code == 1 and says in json.loads(result.stdout)["problems"][0]["detail"]


def test_an_install_folder_that_is_a_link_is_refused(
    tmp_path: Path, home: Path, lock: Path
) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "into").symlink_to(target)
    line = one_line(tv(home, "install", "--lock", str(lock), "--into", str(tmp_path / "into")), 2)
    assert "is a symbolic link" in line
    assert list(target.iterdir()) == []
    line = one_line(tv(home, "verify", "--lock", str(lock), "--into", str(tmp_path / "into")), 2)
    assert "is a symbolic link" in line
    (tmp_path / "file").write_text("x")
    line = one_line(tv(home, "install", "--lock", str(lock), "--into", str(tmp_path / "file")), 2)
    assert "is not a folder" in line


def test_links_in_the_folder_are_replaced_never_followed(
    tmp_path: Path, home: Path, lock: Path
) -> None:
    into, outside = tmp_path / "into", tmp_path / "outside"
    into.mkdir()
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text("precious\n")
    (into / "fmt").symlink_to(victim)  # a link to a file outside
    (into / "csvsum").symlink_to(outside)  # a link to a folder outside
    # a link planted where this very process stages fmt's file
    (into / f".tmp-toolvault-fmt.{os.getpid()}").symlink_to(victim)
    # verify names them, following neither (fmt's link leads to other bytes anyway)
    result = tv(home, "verify", "--lock", str(lock), "--into", str(into), "--json")
    details = [p["detail"] for p in json.loads(result.stdout)["problems"]]
    assert result.exit_code == 1 and all("is a symbolic link" in d for d in details)
    assert len(details) == 2
    done = json.loads(
        ok(home, "install", "--lock", str(lock), "--into", str(into), "--json").stdout
    )
    assert sorted(r["name"] for r in done["replaced"]) == ["csvsum", "fmt"]
    assert victim.read_text() == "precious\n" and list(outside.iterdir()) == [victim]
    assert not (into / "fmt").is_symlink() and (into / "fmt").read_text() == FMT
    assert sorted(os.listdir(into)) == ["csvsum", "fmt"]  # the planted temp link is gone
    ok(home, "verify", "--lock", str(lock), "--into", str(into))


def test_a_link_with_the_right_content_behind_it_does_not_pass_verify(
    tmp_path: Path, home: Path, lock: Path
) -> None:
    into = tmp_path / "into"
    ok(home, "install", "--lock", str(lock), "--into", str(into))
    real = tmp_path / "real-fmt"
    (into / "fmt").rename(real)
    (into / "fmt").symlink_to(real)
    result = tv(home, "verify", "--lock", str(lock), "--into", str(into))
    assert result.exit_code == 1 and "is a symbolic link" in result.stdout


def test_a_hard_link_in_the_folder_is_not_written_through(
    tmp_path: Path, home: Path, lock: Path
) -> None:
    into, victim = tmp_path / "into", tmp_path / "victim"
    into.mkdir()
    victim.write_text("precious\n")
    os.link(victim, into / "fmt")
    ok(home, "install", "--lock", str(lock), "--into", str(into))
    assert victim.read_text() == "precious\n" and (into / "fmt").read_text() == FMT


def test_a_folder_in_a_tools_place_refuses_the_whole_install(
    tmp_path: Path, home: Path, lock: Path
) -> None:
    into = tmp_path / "into"
    (into / "fmt").mkdir(parents=True)
    (into / "fmt" / "inside").write_text("mine\n")
    line = one_line(tv(home, "install", "--lock", str(lock), "--into", str(into)), 2)
    assert "is a folder" in line and "nothing was installed" in line
    assert sorted(os.listdir(into)) == ["fmt"] and (into / "fmt" / "inside").read_text() == "mine\n"


def test_special_and_huge_files_in_the_folder_neither_block_nor_get_read(
    tmp_path: Path,
) -> None:
    """As processes with a timeout: a FIFO opened for reading without O_NONBLOCK, or a
    sparse 8 GiB file read whole, would hang or take minutes."""
    home, into = tmp_path / "home", tmp_path / "into"
    lock = tmp_path / "toolvault.lock"
    src = tmp_path / "fmt"
    src.write_text(FMT)
    (tmp_path / "csvsum").write_text(CSV)
    ok(home, "add", str(src), str(tmp_path / "csvsum"))
    ok(home, "lock", "fmt", "csvsum", "-o", str(lock))
    into.mkdir()
    os.mkfifo(into / "fmt")
    with open(into / "csvsum", "wb") as fh:
        fh.truncate(8 << 30)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "toolvault", "--home", str(home), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    checked = run("verify", "--lock", str(lock), "--into", str(into))
    assert checked.returncode == 1, checked.stderr
    assert "is a special file" in checked.stdout and "has 8589934592 bytes" in checked.stdout
    installed = run("install", "--lock", str(lock), "--into", str(into))
    assert installed.returncode == 0, installed.stderr
    assert "replaced a special file" in installed.stderr
    assert run("verify", "--lock", str(lock), "--into", str(into)).returncode == 0
    assert (into / "csvsum").stat().st_size == len(CSV)


def test_a_lock_names_only_files_inside_the_folder(tmp_path: Path, home: Path, lock: Path) -> None:
    """Every name a lock can hold is a tool name: no '/', no '..', no leading '.'; so every
    file written is a direct child of the folder."""
    into = tmp_path / "deep" / "into"
    done = json.loads(
        ok(home, "install", "--lock", str(lock), "--into", str(into), "--json").stdout
    )
    assert len(done["installed"]) == 2
    written = [p for p in tmp_path.rglob("*") if p.is_file() and tmp_path / "home" not in p.parents]
    assert sorted(written) == sorted([into / "fmt", into / "csvsum", lock])


def test_the_same_pins_in_other_toml_read_the_same_and_garbage_between_is_refused(
    lock: Path,
) -> None:
    """The canonical text is read without tomllib; any other text that is valid TOML (the
    comments, order and string forms a hand edit makes) reads to the same pins through
    tomllib, and text that only looks canonical is left to tomllib too."""
    from toolvault.lockfile.format import parse

    data = lock.read_bytes()
    canonical = parse(data, "lock")
    text = data.decode()
    head, _, rest = text.partition("\n[[tool]]")
    blocks = ["[[tool]]" + b for b in ("\n[[tool]]" + rest).split("\n[[tool]]")[1:]]
    edited = "# edited\n" + head.replace('"toolvault-lock/1"', "'toolvault-lock/1'")
    edited += "\n" + "\n".join(reversed(blocks)).replace("size = ", "size   =   ")
    assert parse(edited.encode(), "edited").by_name() == canonical.by_name()
    sneaky = text.replace("\n[[tool]]", "\nx = 1\n[[tool]]", 1)  # junk the regex would skip
    with pytest.raises(ToolvaultError, match="unknown field"):
        parse(sneaky.encode(), "sneaky")
