"""Only regular files are read, and never past the size limit (issue 11, item 11): a
path naming a device that never ends, a FIFO nobody writes to, or a link to either is
refused at once, for ``ingest``, ``add`` (and its standard input), ``trust add`` and the
files of a legacy store. The CLI runs in a subprocess with a timeout and a memory
limit, so that a missing fix fails the test instead of hanging it or eating memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

from test_legacy import Port42
from toolvault.errors import NotFound, TooLarge

TIMEOUT = 30  # seconds: the CLI starts in well under one; a read that hangs never ends
MEMORY = 1024 * 1024 * 1024  # address space of the CLI: endless reads die well before it
SCRIPT = "#!/bin/sh\necho fine\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def cli(home: Path, *args: str, stdin: IO[Any] | None = None) -> subprocess.CompletedProcess[str]:
    """``toolvault --home HOME ARGS`` in a subprocess, bounded in time and memory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    return subprocess.run(
        [sys.executable, "-m", "toolvault", "--home", str(home), *args],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        preexec_fn=_limit_memory,
    )


def refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolvault: error: "), done.stderr
    assert words in lines[0], lines[0]


def tools(home: Path) -> list[Any]:
    done = cli(home, "ls", "--json")
    return json.loads(done.stdout) if done.returncode == 0 else []


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.sh"
    os.mkfifo(path)
    return path


@pytest.fixture
def vault_home(home: Path) -> Path:
    assert cli(home, "init").returncode == 0
    return home


SPECIAL = {
    "/dev/zero": "is a character device, not a regular file",
    "/dev/urandom": "is a character device, not a regular file",
    "fifo": "is a FIFO (named pipe), not a regular file",
    "link-to-zero": "is a character device, not a regular file",
    "link-to-fifo": "is a FIFO (named pipe), not a regular file",
}


def special(which: str, tmp_path: Path, fifo: Path) -> str:
    if which == "fifo":
        return str(fifo)
    if which.startswith("link-to-"):
        link = tmp_path / "tool.sh"
        link.symlink_to("/dev/zero" if which == "link-to-zero" else fifo)
        return str(link)
    return which


@pytest.mark.parametrize("which", list(SPECIAL))
def test_ingest_refuses_what_is_not_a_regular_file(
    which: str, tmp_path: Path, fifo: Path, vault_home: Path
) -> None:
    refused(cli(vault_home, "ingest", special(which, tmp_path, fifo)), SPECIAL[which])
    assert tools(vault_home) == []


@pytest.mark.parametrize("which", ["/dev/zero", "fifo", "link-to-fifo"])
def test_ingest_of_a_file_url_refuses_what_is_not_a_regular_file(
    which: str, tmp_path: Path, fifo: Path, vault_home: Path
) -> None:
    url = Path(special(which, tmp_path, fifo)).as_uri()
    refused(cli(vault_home, "ingest", "--url", url), SPECIAL[which])
    assert tools(vault_home) == []


def test_add_reads_standard_input_only_up_to_the_limit(vault_home: Path) -> None:
    with open("/dev/zero", "rb") as endless:
        done = cli(vault_home, "add", "-", "--name", "zeros", stdin=endless)
    refused(done, "stdin holds more than 1,048,576 bytes, the limit")
    assert tools(vault_home) == []


def test_a_legacy_store_s_special_files_are_skipped_and_reported(
    tmp_path: Path, vault_home: Path
) -> None:
    """Port42 objects, relations and metadata that are FIFOs or links to devices: each
    is reported as skipped, and the rest is imported."""
    p = Port42(tmp_path / "p42")
    good = p.obj(SCRIPT, "2025-09-17T10:00:00Z")
    p.relation("tool-good-01", "2025-09-17T10:00:00Z", good, name="good")
    pipe_id, zero_id = "ab" * 32, "cd" * 32
    for ident, make in ((pipe_id, os.mkfifo), (zero_id, lambda q: q.symlink_to("/dev/zero"))):
        path = p.root / "objects" / ident[:2] / ident[2:4] / ident[4:]
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
    p.relation("tool-pipe-01", "2025-09-17T10:00:00Z", pipe_id, name="pipe")
    p.relation("tool-zero-01", "2025-09-17T10:00:00Z", zero_id, name="zero")
    os.mkfifo(p.root / "relations" / "relation-tool-fifo.json")
    (p.root / "metadata" / f"{good}.json").unlink()
    (p.root / "metadata" / f"{good}.json").symlink_to("/dev/urandom")
    done = cli(vault_home, "migrate-legacy", "--port42-home", str(p.root), "--json")
    assert done.returncode == 0, done.stderr
    skipped = "\n".join(json.loads(done.stdout)["skipped"])
    assert "object ababababab" in skipped and "cannot be read: not a regular file" in skipped
    assert "object cdcdcdcdcd" in skipped
    assert "relation-tool-fifo.json: unreadable JSON (not a regular file)" in skipped
    assert [t["name"] for t in tools(vault_home)] == ["good"]


# -- the reader itself ----------------------------------------------------------------------


def test_read_regular_reads_a_file_and_refuses_the_rest(tmp_path: Path, fifo: Path) -> None:
    from toolvault.sources.files import NotRegularFile, read_regular, read_stream

    script = tmp_path / "ok.sh"
    script.write_text(SCRIPT)
    data, info = read_regular(script, 100)
    assert data == SCRIPT.encode() and info.st_size == len(SCRIPT)
    with pytest.raises(TooLarge, match="is 20 bytes; the limit is 10"):
        read_regular(script, 10)
    with pytest.raises(NotRegularFile, match="is a FIFO"):
        read_regular(fifo, 100)
    with pytest.raises(NotRegularFile, match="is a folder"):
        read_regular(tmp_path, 100)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing", 100)
    with open("/dev/zero", "rb") as endless, pytest.raises(TooLarge, match="more than 4,096"):
        read_stream(endless, 4096, "zeros")
    assert not issubclass(NotRegularFile, NotFound)
