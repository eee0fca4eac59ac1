"""Provenance given with unchanged content is reported as not recorded, and long
texts come from files: --prompt-file and --message-file (SPEC §11)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_cli import assert_one_line_error, dump, js, ok, tv, write

ONE = "#!/bin/sh\necho one\n"
TWO = "#!/bin/sh\necho two\n"


@pytest.fixture
def fmt(tmp_path: Path) -> Path:
    """fmt:1 and fmt:2 published; returns the source, holding fmt:2's content."""
    src = write(tmp_path / "fmt.sh", ONE)
    ok("add", str(src))
    write(src, TWO)
    ok("add", str(src), "--prompt", "first prompt", "-m", "first message")
    return src


def test_provenance_with_unchanged_content_is_said_not_recorded(fmt: Path) -> None:
    result = tv("add", str(fmt), "--prompt", "p2", "--ref", "fmt:1", "-m", "why", "--json")
    assert result.exit_code == 0, result.output
    assert [(r["version"], r["created"]) for r in json.loads(result.stdout)] == [(2, False)]
    note = "toolvault: note: fmt:2 unchanged (same content as the latest), so no new version: "
    assert result.stderr == f"{note}-m, --prompt, --ref not recorded\n"
    shown = js("show", "fmt")
    assert (shown["prompt"], shown["message"], shown["references"]) == (
        "first prompt",
        "first message",
        [],
    )
    plain = tv("add", str(fmt))  # nothing given, nothing to say
    assert plain.exit_code == 0 and plain.stderr == ""
    assert plain.stdout.startswith("fmt:2  unchanged")


def test_a_rollback_to_the_latest_content_says_its_message_was_not_recorded(fmt: Path) -> None:
    result = tv("rollback", "fmt", "2", "-m", "again")
    assert result.exit_code == 0, result.output
    assert "the message not recorded" in result.stderr and "fmt:2 unchanged" in result.stderr
    assert js("show", "fmt")["message"] == "first message"


def test_a_prompt_too_long_for_the_command_line_comes_from_a_file(
    tmp_path: Path, fmt: Path
) -> None:
    prompt = "".join(f"line {i}: make the formatter faster\n" for i in range(6000))
    assert len(prompt.encode()) > 200_000  # over the 128 KiB a single argument may hold
    (tmp_path / "prompt.txt").write_text(prompt)
    (tmp_path / "message.txt").write_text("why, at length\n\n")
    write(fmt, "#!/bin/sh\necho three\n")
    files = ["--prompt-file", str(tmp_path / "prompt.txt")]
    (added,) = js("add", str(fmt), *files, "--message-file", str(tmp_path / "message.txt"))
    shown = js("show", f"fmt:{added['version']}")
    assert shown["prompt"] == prompt.rstrip("\n")  # as "$(cat prompt.txt)" gives it
    assert shown["message"] == "why, at length"


def test_a_text_from_standard_input(tmp_path: Path, fmt: Path) -> None:
    write(fmt, "#!/bin/sh\necho three\n")
    ok("add", str(fmt), "--prompt-file", "-", input="a prompt\nover lines\n")
    assert js("show", "fmt:3")["prompt"] == "a prompt\nover lines"
    ok(
        "add",
        "-",
        "--name",
        "piped",
        "--message-file",
        str(write(tmp_path / "m", "m\n")),
        input=ONE,
    )
    assert js("show", "piped")["message"] == "m"


@pytest.mark.parametrize("command", ["rollback", "versions", "deprecate", "retire"])
def test_every_message_option_takes_a_file(command: str, tmp_path: Path, fmt: Path) -> None:
    text = "a long story\n" * 5_000  # 65,000 bytes, a message's most is 65,536
    message = tmp_path / "why.txt"
    message.write_text(text)
    args = {
        "rollback": ["rollback", "fmt", "1"],
        "versions": ["versions", "fmt", "rollback", "1"],
        "deprecate": ["deprecate", "fmt"],
        "retire": ["retire", "fmt"],
    }[command]
    result = tv(*args, "--message-file", str(message), "--json")
    assert result.exit_code == 0, result.output
    if command in ("rollback", "versions"):
        assert js("show", "fmt:3")["message"] == text.rstrip("\n")
    else:
        assert js("show", "fmt")["tool"]["lifecycle_message"] == text.rstrip("\n")


def bad_texts(tmp_path: Path) -> dict[str, tuple[list[str], str, str | None]]:
    """Arguments to add, the words of the error, and stdin."""
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "huge.txt").write_bytes(b"x" * (1024 * 1024 + 1))
    (tmp_path / "folder").mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return {
        "missing": (["--prompt-file", str(tmp_path / "nope")], "no such file", None),
        "device": (["--prompt-file", "/dev/zero"], "is a character device", None),
        "fifo": (["--message-file", str(fifo)], "is a FIFO (named pipe)", None),
        "folder": (["--prompt-file", str(tmp_path / "folder")], "is a folder", None),
        "latin-1": (["--prompt-file", str(tmp_path / "latin1.txt")], "not UTF-8 text", None),
        "too large": (
            ["--prompt-file", str(tmp_path / "huge.txt")],
            "the limit is 1,048,576 (the most a prompt may hold)",
            None,
        ),
        "both": (
            ["--prompt", "p", "--prompt-file", str(tmp_path / "latin1.txt")],
            "not both",
            None,
        ),
        "stdin twice": (["--prompt-file", "-", "--message-file", "-"], "both read standard", "x"),
        "message too large": (
            ["--message-file", "-"],
            "more than 65,536 bytes, the limit (the most a message may hold)",
            "x" * 65_537,
        ),
    }


def test_bad_text_files_are_refused_and_nothing_is_written(
    tmp_path: Path, fmt: Path, home: Path
) -> None:
    write(fmt, "#!/bin/sh\necho three\n")
    before = dump(home)
    for what, (args, words, stdin) in bad_texts(tmp_path).items():
        result = tv("add", str(fmt), *args, input=stdin)
        assert result.exit_code == 2, (what, result.output)
        assert_one_line_error(result, words)
        assert dump(home) == before, what
    piped = tv("add", "-", "--name", "x", "--prompt-file", "-", input=ONE)
    assert piped.exit_code == 2
    assert_one_line_error(piped, "PATH and --prompt-file both read standard input")
