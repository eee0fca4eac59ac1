"""MCP's ``run`` (SPEC §12, §13) through the SDK's in-process client: always in a real
bubblewrap sandbox, its outputs as data; yanked versions refused unless asked by
number; bounded time and output; no sandbox, no run."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from mcp_helpers import SH, connected, ok, refused, run
from toolvault.vault import Vault

PROBE = """#!/bin/sh
echo "args: $*"
echo "stdin: $(cat)"
echo made > made-here
echo "home: $(ls -A "$VAULT_HOME" 2>/dev/null | wc -l) entries"
cat "$VAULT_HOME/vault.db" >/dev/null 2>&1 && echo "db: read" || echo "db: hidden"
{ echo outside > "$OUTSIDE/escaped"; } 2>/dev/null && echo "outside: written" \
    || echo "outside: refused"
echo oops >&2
exit 3
"""


def test_a_run_is_sandboxed_and_answers_exit_code_outputs_and_ref(
    sqlite_vault: Vault, current_folder: Path, tmp_path: Path
) -> None:
    vault = sqlite_vault
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    body = PROBE.replace("$VAULT_HOME", str(vault.home)).replace("$OUTSIDE", str(outside))
    vault.publish("probe", body)

    async def call() -> Any:
        async with connected(vault) as client:
            return await ok(client, "run", spec="probe", args=["a b", "-c"], stdin="hello\n")

    got = run(call)
    assert got["stdout"].splitlines() == [
        "args: a b -c",
        "stdin: hello",
        "home: 0 entries",
        "db: hidden",
        "outside: refused",
    ]
    assert (got["exit_code"], got["stderr"], got["ref"]) == (3, "oops\n", vault.get("probe").ref)
    assert got["timed_out"] is got["truncated"] is False and got["warnings"] == []
    assert (current_folder / "made-here").read_text() == "made\n"
    assert not (outside / "escaped").exists()
    assert vault.verify().ok


def test_a_loopback_listener_is_out_of_reach_unless_net(
    sqlite_vault: Vault, current_folder: Path
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        sqlite_vault.publish(
            "dial",
            "#!/usr/bin/env python3\nimport socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), 5)\n"
            "    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)\n",
        )

        async def call() -> tuple[Any, Any]:
            async with connected(sqlite_vault) as client:
                closed = await ok(client, "run", spec="dial")
                opened = await ok(client, "run", spec="dial", net=True)
                return closed, opened

        closed, opened = run(call)
    assert closed["stdout"].startswith("refused")
    assert opened["stdout"] == "connected\n"


def test_time_and_output_are_bounded(sqlite_vault: Vault, current_folder: Path) -> None:
    sqlite_vault.publish("slow", "#!/bin/sh\necho started\nsleep 30\necho never\n")
    sqlite_vault.publish("flood", "#!/bin/sh\nwhile :; do echo yyyyyyyyyyyyyyyy; done\n")

    async def call() -> tuple[Any, Any, list[dict[str, Any]]]:
        async with connected(sqlite_vault) as client:
            slow = await ok(client, "run", spec="slow", timeout=0.5)
            flood = await ok(client, "run", spec="flood", max_output=1000, timeout=20)
            bad = [
                await refused(client, "run", spec="slow", timeout=0),
                await refused(client, "run", spec="slow", timeout=601),
                await refused(client, "run", spec="slow", max_output=0),
                await refused(client, "run", spec="slow", args="--help"),
            ]
            return slow, flood, bad

    slow, flood, bad = run(call)
    assert (slow["timed_out"], slow["exit_code"], slow["stdout"]) == (True, 124, "started\n")
    assert slow["duration"] < 10
    assert flood["truncated"] and flood["stdout_truncated"] and not flood["timed_out"]
    kept, _ = flood["stdout"].split("\n[toolvault: output cut at 1000 bytes")
    assert len(kept.encode()) <= 1000 and set(kept.replace("\n", "")) == {"y"}
    assert [b["code"] for b in bad] == ["invalid_input"] * 4


def test_a_yanked_version_runs_only_when_asked_and_named_by_number(
    sqlite_vault: Vault, current_folder: Path
) -> None:
    vault = sqlite_vault
    vault.publish("hi", SH)
    vault.publish("hi", SH.replace("hello", "hello again"))
    vault.label("hi:1", "stable")
    vault.yank("hi:1", "prints the wrong greeting")

    async def call() -> dict[str, Any]:
        async with connected(vault) as client:
            return {
                "plain": await refused(client, "run", spec="hi:1"),
                "label": await refused(client, "run", spec="hi:stable", allow_yanked=True),
                "pinned": await ok(client, "run", spec=vault.get("hi:1").ref, allow_yanked=True),
                "number": await ok(client, "run", spec="hi:1", allow_yanked=True),
                "latest": await ok(client, "run", spec="hi"),
            }

    got = run(call)
    assert got["plain"]["code"] == "invalid_input"
    assert got["plain"]["details"] == {
        "ref": vault.get("hi:1").ref,
        "yanked": "prints the wrong greeting",
        "run_as": "hi:1",
    }
    assert "allow_yanked" in got["plain"]["message"]
    assert (got["label"]["code"], got["label"]["details"]["run_as"]) == ("invalid_input", "hi:1")
    for key in ("pinned", "number"):
        assert got[key]["stdout"] == "hello\n"
        assert got[key]["warnings"] == ["hi:1 is yanked: prints the wrong greeting"]
    assert (got["latest"]["stdout"], got["latest"]["warnings"]) == ("hello again\n", [])


def test_without_bwrap_nothing_runs_and_the_error_is_sandbox_unavailable(
    sqlite_vault: Vault, current_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_vault.publish("mark", "#!/bin/sh\necho ran > marked\n")
    sqlite_vault.publish("notes", "just text, no shebang\n")
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "sh").symlink_to("/bin/sh")  # a PATH with a shell, without bwrap
    monkeypatch.setenv("PATH", str(bare))

    async def call() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connected(sqlite_vault) as client:
            missing = await refused(client, "run", spec="mark")
            text = await refused(client, "run", spec="notes")
            return missing, text

    missing, text = run(call)
    assert missing["code"] == "sandbox_unavailable"
    assert missing["details"] == {"reason": "no bwrap"}
    assert "the tool was not run" in missing["message"]
    assert not (current_folder / "marked").exists()
    assert (text["code"], text["details"]["executable"]) == ("cannot_execute", False)


def test_run_is_listed_with_its_schema_and_annotations(sqlite_vault: Vault) -> None:
    async def call() -> Any:
        async with connected(sqlite_vault) as client:
            return {t.name: t for t in (await client.list_tools()).tools}["run"]

    tool = run(call)
    props = tool.input_schema["properties"]
    assert {"spec", "args", "stdin", "timeout", "max_output", "net", "allow_yanked"} <= set(props)
    assert props["timeout"]["maximum"] == 600
    assert tool.annotations.read_only_hint is False and tool.annotations.destructive_hint is True
    assert {"exit_code", "stdout", "stderr", "truncated", "timed_out", "ref"} <= set(
        tool.output_schema["properties"]
    )
    assert "sandbox" in (tool.description or "")
