"""``verify --lock`` on the fast path (``toolvault.fastcli.verifylock``) answers byte for
byte as the click command does — stdout, stderr and exit status — and leaves everything
but the plain case to it, having printed nothing."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from test_cli import ok, tv, write
from test_fastcli import FORBIDDEN
from test_layering import HEAVY, loaded_modules, top
from toolvault.fastcli import serve, verifylock
from toolvault.lockfile import format as lockformat
from toolvault.store.fastread import SCHEMA_VERSION

FMT1, FMT2 = "#!/bin/sh\necho one\n", "#!/bin/sh\necho two\n"


@pytest.fixture
def project(tmp_path: Path, home: Path) -> Path:
    """A vault with fmt (2 versions, pinned at 1: its latest moved), say and notes
    (not executable), a lock of the three in ``tmp_path/toolvault.lock``, and the three
    installed in ``tmp_path/into``."""
    src = tmp_path / "src"
    src.mkdir()
    ok("add", str(write(src / "fmt", FMT1)))
    ok("add", str(write(src / "say", "#!/bin/sh\necho say\n")))
    ok("add", str(write(src / "notes", "plain text\n", 0o644)))
    ok("lock", "fmt", "say", "notes", "-o", str(tmp_path / "toolvault.lock"))
    ok("add", str(write(src / "fmt", FMT2)))
    ok("install", "--lock", str(tmp_path / "toolvault.lock"), "--into", str(tmp_path / "into"))
    return tmp_path


def lock_args(project: Path, *more: str) -> list[str]:
    return ["verify", "--lock", str(project / "toolvault.lock"), *more]


def into(project: Path) -> list[str]:
    return lock_args(project, "--into", str(project / "into"))


def fast(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[bool, str, str, int]:
    """Whether the fast path served ``argv``, what it printed and its exit status."""
    capsys.readouterr()
    try:
        served, status = serve(argv), 0
    except SystemExit as exc:
        served, status = True, int(exc.code or 0)
    printed = capsys.readouterr()
    return served, printed.out, printed.err, status


def same(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, int]:
    """Run ``argv`` both ways: the fast path serves it with click's stdout, stderr and
    exit status; returns click's stdout and status."""
    full = tv(*argv)
    assert full.exception is None or isinstance(full.exception, SystemExit), full.output
    served, out, err, status = fast(argv, capsys)
    assert served, "not served by the fast path"
    assert (out, err, status) == (full.stdout, full.stderr, full.exit_code)
    return full.stdout, full.exit_code


def falls_back(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    served, out, err, _ = fast(argv, capsys)
    assert (served, out, err) == (False, "", "")


# -- served, byte for byte ----------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--json"],
        ["--into", "INTO"],
        ["--into", "INTO", "--json"],
        ["--json", "--into", "INTO"],
    ],
    ids=" ".join,
)
def test_a_sound_project_is_verified_as_click_does(
    project: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = lock_args(project, *(str(project / "into") if w == "INTO" else w for w in extra))
    stdout, status = same(argv, capsys)
    assert status == 0
    assert "fmt" in stdout  # its latest moved past the pin: information, not a failure


def test_toolvault_options_and_verify_home(
    project: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOOLVAULT_HOME", str(project / "nowhere"))
    same(["--home", str(home), *into(project)], capsys)
    same(["--json", "--home", str(home), *into(project)], capsys)
    same([*into(project), "--home", str(home)], capsys)  # as the pre-commit hook gives it
    same(["--home", str(project / "nowhere"), *into(project), "--home", str(home)], capsys)


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
def test_a_drifted_file_is_a_problem_and_exits_1(
    project: Path, as_json: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "into" / "say").write_text("#!/bin/sh\necho SAY\n")  # same size, other bytes
    stdout, status = same([*into(project), *as_json], capsys)
    assert status == 1 and "differs from say:1@sha256:" in stdout


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
def test_missing_resized_and_remoded_files_are_problems(
    project: Path, as_json: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "into" / "fmt").unlink()
    (project / "into" / "say").write_text("#!/bin/sh\necho longer\n")
    (project / "into" / "notes").chmod(0o600)
    stdout, status = same([*into(project), *as_json], capsys)
    assert status == 1
    assert "is missing" in stdout and "bytes;" in stdout and "mode 600" in stdout


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o1755, 0o775, 0o655])
def test_any_other_mode_bit_is_a_problem(
    project: Path, mode: int, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "into" / "say").chmod(mode)  # set-id and sticky bits count too
    stdout, status = same(into(project), capsys)
    assert status == 1 and f"has mode {mode:o}" in stdout


def test_a_link_a_folder_and_a_fifo_in_a_tools_place(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project / "into"
    target = project / "elsewhere"
    target.write_text(FMT1)
    (folder / "fmt").unlink()
    (folder / "fmt").symlink_to(target)  # the same bytes, but a link is never followed
    (folder / "say").unlink()
    (folder / "say").mkdir()
    (folder / "notes").unlink()
    os.mkfifo(folder / "notes")
    stdout, status = same(into(project), capsys)
    assert status == 1
    assert "a symbolic link" in stdout and "a folder" in stdout and "a special file" in stdout
    assert same([*into(project), "--json"], capsys)[1] == 1


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
def test_a_yanked_pin_warns_on_stderr(
    project: Path, as_json: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ok("yank", "say:1", "--reason", "prints the wrong thing")
    ok("yank", "fmt:2", "--reason", "not yet")  # the latest falls back to the pin: not moved
    full = tv(*into(project), *as_json)
    assert "toolvault: warning: say:1@sha256:" in full.stderr
    assert "prints the wrong thing" in full.stderr
    same([*into(project), *as_json], capsys)


def test_a_latest_that_moved_is_listed(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok("add", str(write(tmp_path / "src" / "say", "#!/bin/sh\necho said\n")))
    stdout, _ = same(lock_args(project), capsys)
    assert "info     say is pinned at 1; its latest is 2" in stdout
    assert '"latest": 2' in same(lock_args(project, "--json"), capsys)[0]


def test_moved_names_the_latest_version_not_yanked(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """fmt is pinned at 1 and has 2; with 3 yanked its latest is still 2, with 2 yanked
    too it is the pin (not moved); a pin both yanked and moved past says both."""
    ok("add", str(write(tmp_path / "src" / "fmt", "#!/bin/sh\necho three\n")))
    ok("yank", "fmt:3", "--reason", "broken")
    assert '"latest": 2' in same(lock_args(project, "--json"), capsys)[0]
    ok("yank", "fmt:2", "--reason", "broken too")
    assert "fmt" not in same(lock_args(project), capsys)[0]
    ok("add", str(write(tmp_path / "src" / "say", "#!/bin/sh\necho said\n")))
    ok("yank", "say:1", "--reason", "superseded")
    stdout, status = same([*into(project), "--json"], capsys)
    assert status == 0 and '"name": "say"' in stdout and "superseded" in tv(*into(project)).stderr


def test_an_empty_folder_and_a_stray_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "into" / "stray").write_text("not in the lock\n")  # left alone: no problem
    assert same(into(project), capsys)[1] == 0
    (project / "empty").mkdir()
    assert same(lock_args(project, "--into", str(project / "empty")), capsys)[1] == 1


# -- everything else falls back -----------------------------------------------------------


def test_a_signed_lock_falls_back_for_its_signature_to_be_checked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same(into(project), capsys)
    ok("keys", "generate", "release")
    ok("lock", "-o", str(project / "toolvault.lock"), "--sign", "release")
    falls_back(into(project), capsys)
    assert tv(*into(project)).exit_code == 0


def test_a_signed_pin_falls_back(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same(into(project), capsys)
    ok("keys", "generate", "team")
    ok("add", str(write(tmp_path / "src" / "say", "#!/bin/sh\necho signed\n")), "--sign", "team")
    ok("lock", "say", "--update", "-o", str(project / "toolvault.lock"))
    assert 'signer = "' in (project / "toolvault.lock").read_text()
    falls_back(lock_args(project), capsys)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("# toolvault.lock:", "# my tools:"),  # comments are not content
        lambda t: t.replace("size = ", "size =  "),
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t + "\n",
        lambda t: t.replace('digest = "sha256:', 'digest = "sha256:0'),  # a damaged digest
        lambda t: t.replace("size = 19", "size = 18"),  # a pin edited: the digest fails
        lambda t: t.replace("executable = false", "executable = true"),
        lambda t: t.replace('format = "toolvault-lock/1"', 'format = "toolvault-lock/2"'),
        lambda t: "",
        # the pins unchanged (their digest still right), the form not toolvault lock's
        lambda t: t.replace("[[tool]]", "[[ tool ]]"),
        lambda t: t.replace('ref = "say:', "ref = 'say:").replace('"\nsize = 19', "'\nsize = 19"),
        lambda t: t.replace("executable = true", "executable = True"),
        lambda t: t.replace("\n\n[[tool]]", "\n[[tool]]", 1),
        lambda t: t.replace("\n\n[[tool]]", "\n\n\n[[tool]]", 1),
        lambda t: t.rstrip("\n"),
        lambda t: "\ufeff" + t,
        lambda t: t.replace("size = ", "size\t= "),
        lambda t: t.replace("size = ", "size = +"),
        lambda t: t.replace("size = ", "size = 0"),
        lambda t: t.replace("size = 1", "size = 1_"),
        lambda t: t.replace(":1@sha256:", ":01@sha256:"),
        lambda t: t.replace(":1@sha256:", ": 1@sha256:"),
        lambda t: t.replace(":1@sha256:", "@sha256:1:"),
        lambda t: t.replace("\nexecutable = ", "\nexecutable =  "),
        lambda t: t.replace("executable = false\n", "executable = false # no\n"),
        lambda t: t.replace('"\nsize = ', '"\nsigner = "0123456789abcdef"\nsize = ', 1),
        lambda t: t.replace("\nsize = 19\nexecutable = true\n", "\nexecutable = true\nsize = 19\n"),
        lambda t: t.replace('"\ndigest = ', '"\n\ndigest = '),
        lambda t: t + "\n[[tool]]\n",
        lambda t: t + "[signature]\n",
        lambda t: t.replace('\n\n[[tool]]\nref = "say', '\n\n[[tool]]\nref = "say"\nsize = 0\n', 1),
    ],
)
def test_a_lock_not_in_locks_own_form_falls_back(
    project: Path, edit: object, capsys: pytest.CaptureFixture[str]
) -> None:
    same(lock_args(project), capsys)
    path = project / "toolvault.lock"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    falls_back(lock_args(project), capsys)


@pytest.mark.parametrize(
    "change",
    [{"version": 7}, {"size": 3}, {"executable": False}, {"sha256": "0" * 64}],
    ids=["number", "size", "mode", "hash"],
)
def test_pins_that_do_not_hold_in_the_vault_fall_back(
    project: Path, change: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    same(lock_args(project), capsys)
    path = project / "toolvault.lock"
    lock = lockformat.load(str(path))
    pins = tuple(replace(p, **change) if p.name == "say" else p for p in lock.pins)  # type: ignore[arg-type]
    path.write_bytes(lockformat.render(lockformat.Lock(pins)))  # well formed, its digest right
    falls_back(lock_args(project), capsys)
    assert tv(*lock_args(project)).exit_code == 1  # the full path names the pin


def test_a_pin_from_another_vault_falls_back(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same(lock_args(project), capsys)
    other = tmp_path / "other"  # fmt there has other bytes; say and notes are not there
    ok("--home", str(other), "add", str(write(tmp_path / "fmt", FMT2)))
    falls_back(["--home", str(other), *lock_args(project)], capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "--into", "INTO"],  # no lock: click explains
        ["verify", "fmt", "--lock", "LOCK"],
        ["verify", "--lock=LOCK"],
        ["verify", "--lock", "LOCK", "--lock", "LOCK"],
        ["verify", "--lock", "LOCK", "--since", "x"],
        ["verify", "--lock", "LOCK", "--into"],
        ["verify", "--lock", "LOCK", "-h"],
        ["verify", "--lock", "LOCK", "--help"],
        ["verify", "--lock", "LOCK", "--into", "NOWHERE"],
        ["verify", "--lock", "LOCK", "--into", "LINK"],
        ["verify", "--lock", "LOCK", "--into", "LOCK"],
        ["verify", "--lock", "NOWHERE"],
        ["verify", "--lock", "INTO"],
        ["verify", "--lock", "FIFO"],  # never blocks
        ["verify", "--lock", "LOCK", "--home", "LOCK"],
        ["verify"],
    ],
    ids=" ".join,
)
def test_everything_else_falls_back_having_printed_nothing(
    project: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    same(into(project), capsys)
    (project / "link").symlink_to(project / "into")
    os.mkfifo(project / "fifo")
    where = {
        "FIFO": str(project / "fifo"),
        "LOCK": str(project / "toolvault.lock"),
        "INTO": str(project / "into"),
        "NOWHERE": str(project / "nowhere"),
        "LINK": str(project / "link"),
    }
    falls_back([where.get(w, w) for w in argv], capsys)


def test_a_daemon_postgres_or_an_old_schema_falls_back(
    project: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    same(into(project), capsys)
    monkeypatch.setenv("TOOLVAULT_URL", "http://127.0.0.1:9")
    falls_back(into(project), capsys)
    monkeypatch.delenv("TOOLVAULT_URL")
    monkeypatch.setenv("TOOLVAULT_DB", "postgresql://nobody@127.0.0.1:9/x")
    falls_back(into(project), capsys)
    monkeypatch.delenv("TOOLVAULT_DB")
    con = sqlite3.connect(home / "vault.db")
    con.execute("DELETE FROM schema_migrations WHERE id = ?", (SCHEMA_VERSION,))
    con.commit()
    con.close()
    falls_back(into(project), capsys)


# -- the copies, and what is loaded -------------------------------------------------------


def test_the_copies_match_what_they_copy(project: Path) -> None:
    assert verifylock.FORMAT == lockformat.FORMAT
    assert verifylock.HEADER == lockformat.HEADER
    assert verifylock.MAX_BYTES == lockformat.MAX_BYTES
    assert verifylock.MAX_SIZE == lockformat.MAX_SIZE
    lock = lockformat.load(str(project / "toolvault.lock"))
    pins = verifylock.read_lock(str(project / "toolvault.lock"))
    assert verifylock.content(pins) == lock.content()
    assert (
        verifylock.render(pins, lock.digest.removeprefix("sha256:"))
        == lockformat.render(lock).decode()
    )


def test_verify_lock_loads_nothing_heavy(project: Path, home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    argv = into(project)
    code = (
        f"import sys; sys.argv = ['toolvault', *{argv!r}]\nfrom toolvault.main import main\nmain()"
    )
    found, stdout = loaded_modules(code, tmp_path, env)
    assert b"ok (checked 3 pins, 3 files)" in stdout
    loaded = found & FORBIDDEN | top(found) & {*FORBIDDEN, *HEAVY}
    assert not loaded, f"toolvault verify --lock loaded {sorted(loaded)}"


@pytest.mark.parametrize("source", ["/home/zoé/.toolvault", "https://x:1/a\x7fb", "/ü/€/𝄞 'q'"])
def test_the_digest_is_the_lock_formats_for_any_source(source: str) -> None:
    pins = [("a.b-c_d", 3, "ab" * 32, 0, False, source), ("zz", 99, "0f" * 32, 12, True, source)]
    lock = lockformat.Lock(
        tuple(lockformat.Pin(n, v, h, s, e, None, src) for n, v, h, s, e, src in pins)
    )
    assert verifylock.content(pins) == lock.content()
    if "\x7f" not in source:  # escaped in the file: not the plain case, never rendered here
        text = lockformat.render(lock).decode()
        assert verifylock.render(pins, lock.digest.removeprefix("sha256:")) == text


@pytest.mark.parametrize("size", [0, 1, 300, (1 << 20) - 1, 1 << 20, (1 << 20) + 5])
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_one_read_hashing_knows_where_a_file_ends(size: int, delta: int, tmp_path: Path) -> None:
    """Both paths hash a file of ``size + delta`` bytes against a pin of ``size``: the
    file's hash when it holds at most ``size`` bytes, None (not the pin) when more."""
    from toolvault.lockfile.folder import sha256_of

    data = os.urandom(max(0, size + delta))
    (tmp_path / "f").write_bytes(data)
    expected = hashlib.sha256(data).hexdigest() if len(data) <= size else None
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fd = os.open("f", os.O_RDONLY, dir_fd=folder)
    try:
        assert sha256_of("f", folder, size) == expected
        assert verifylock._sha256(fd, size) == expected
    finally:
        os.close(fd)
        os.close(folder)
