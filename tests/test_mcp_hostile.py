"""MCP tools given what a confused or hostile agent sends (SPEC §11, §12): text that is no
valid Unicode (JSON allows a lone ``"\\ud800"``), NUL bytes, arguments the system cannot
pass to a program. Each is a coded tool error of the caller's input, ``invalid_input``,
and nothing is written or run; never the ``internal`` code of a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp_helpers import SH, connected, refused, run
from sandboxing import need_sandbox
from toolvault.vault import Vault

LONE = "\ud800"  # a surrogate alone: JSON can carry it, UTF-8 cannot


def refusals(vault: Vault, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The coded error of each call, made in order on one connection."""

    async def body() -> list[dict[str, Any]]:
        async with connected(vault) as client:
            return [await refused(client, tool, **args) for tool, args in calls]

    found: list[dict[str, Any]] = run(body)
    return found


def test_content_that_is_no_unicode_text_is_invalid_input_and_nothing_is_published(
    vault: Vault,
) -> None:
    vault.publish("hello", SH)
    base = vault.get("hello").ref
    errors = refusals(
        vault,
        [
            ("publish", {"name": "hello", "content": f"echo {LONE}\n", "base_ref": base}),
            ("publish", {"name": "fresh", "content": f"#!/bin/sh\n# {LONE}\n"}),
        ],
    )
    for error in errors:
        assert error["code"] == "invalid_input", error
        assert "surrogate" in error["message"] and "UTF-8" in error["message"]
    assert [v["version"] for v in vault.version_listing("hello")] == [1]
    assert "fresh" not in [t.name for t in vault.tools()]


def test_a_search_that_is_no_unicode_text_is_invalid_input(vault: Vault) -> None:
    vault.publish("hello", SH)
    for error in refusals(
        vault, [("search_tools", {"query": f"{LONE}abc"}), ("search_tools", {"query": "ab\udcff"})]
    ):
        assert error["code"] == "invalid_input", error
        assert "surrogate" in error["message"]


def test_run_arguments_and_stdin_the_system_cannot_pass_are_invalid_input(
    sqlite_vault: Vault, current_folder: Path
) -> None:
    need_sandbox()
    sqlite_vault.publish("mark", "#!/bin/sh\necho ran > ran-here\n")
    errors = refusals(
        sqlite_vault,
        [
            ("run", {"spec": "mark", "args": ["a\x00b"]}),
            ("run", {"spec": "mark", "args": [f"a{LONE}"]}),
            ("run", {"spec": "mark", "stdin": f"s{LONE}"}),
            ("run", {"spec": "mark", "args": ["x" * 200_000]}),  # over Linux's 128 KiB
            ("run", {"spec": "mark", "args": ["y" * 128_000] * 64}),  # 8 MB: over any ARG_MAX
        ],
    )
    assert [e["code"] for e in errors] == ["invalid_input"] * 5, errors
    messages = [e["message"] for e in errors]
    assert "NUL" in messages[0]
    assert "surrogate" in messages[1] and "surrogate" in messages[2]
    assert all("too long" in m for m in messages[3:]), messages[3:]
    assert all("was not run" in m for m in messages), messages
    assert not (current_folder / "ran-here").exists()
