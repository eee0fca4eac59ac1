"""The MCP server (SPEC §12) through the SDK's in-process client: every tool, resource,
template and the prompt, with each error code, over SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcp_helpers import PY, SH, connected, ok, refused, run
from toolvault.vault import Vault

TOOLS = {
    "search_tools": "read",
    "list_tools": "read",
    "describe": "read",
    "get_context": "read",
    "list_versions": "read",
    "diff": "read",
    "lineage": "read",
    "verify": "read",
    "publish": "write",
    "label": "write",
    "run": "run",
}


def test_every_tool_has_a_schema_an_output_schema_annotations_and_a_description(
    vault: Vault,
) -> None:
    async def body() -> None:
        async with connected(vault) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
        assert set(TOOLS) <= set(listed)
        for name, kind in TOOLS.items():
            tool = listed[name]
            assert tool.input_schema["type"] == "object"
            assert tool.output_schema and tool.output_schema["type"] == "object"
            assert tool.annotations is not None
            assert tool.annotations.read_only_hint is (kind == "read"), name
            if kind == "run":  # it may change the current folder: a client should ask
                assert tool.annotations.destructive_hint is True
            if kind == "write":
                assert tool.annotations.destructive_hint is False
                assert tool.annotations.idempotent_hint is True
            assert tool.description and len(tool.description) > 60, name
        assert "base_ref" in listed["publish"].input_schema["properties"]

    run(body)


def test_reads_name_every_version_by_its_pinned_ref(vault: Vault) -> None:
    vault.publish("csv-sum", PY)
    two = vault.publish("csv-sum", PY + "print(2)\n")
    vault.publish("hello", SH)
    ref = vault.get("csv-sum").ref
    assert ref.endswith(two.sha256)

    async def body() -> None:
        async with connected(vault) as client:
            found = await ok(client, "search_tools", query="csv column")
            assert [r["ref"] for r in found["results"]] == [ref]
            listed = await ok(client, "list_tools")
            assert {t["name"]: t["latest_ref"] for t in listed["tools"]} == {
                "csv-sum": ref,
                "hello": vault.get("hello").ref,
            }
            shown = await ok(client, "describe", spec="csv-sum:2")
            assert (shown["ref"], shown["description"]) == (ref, "Sum a column of a CSV file.")
            assert shown["usage"] == "Usage: csv-sum FILE COLUMN"
            context = await ok(client, "get_context", specs=["csv-sum", "hello:1"])
            assert [v["ref"] for v in context["versions"]] == [ref, vault.get("hello").ref]
            assert ref in context["markdown"] and "print(2)" in context["markdown"]
            versions = await ok(client, "list_versions", name="csv-sum")
            assert versions["latest_ref"] == ref
            assert [v["ref"] for v in versions["versions"]] == [vault.get("csv-sum:1").ref, ref]

    run(body)


def test_get_context_is_the_shared_context_with_refs_ranges_and_a_byte_budget(
    vault: Vault,
) -> None:
    vault.publish("base", SH)
    vault.publish("base", SH + "# two\n")
    base1 = vault.get("base:1").ref
    vault.publish("user", PY, references=[base1])
    vault.yank("base:1", "wrong greeting")
    user = vault.get("user").ref

    async def body() -> dict[str, Any]:
        async with connected(vault) as client:
            return {
                "refs": await ok(client, "get_context", specs=["user"], with_refs=1),
                "range": await ok(client, "get_context", specs=["base:1..2"]),
                "cut": await ok(client, "get_context", specs=["user", "base"], max_bytes=30),
                "deep": await refused(client, "get_context", specs=["user"], with_refs=99),
            }

    got = run(body)
    refs = got["refs"]
    assert [(v["ref"], v["depth"], v["via"]) for v in refs["versions"]] == [
        (user, 0, None),
        (base1, 1, user),
    ]
    assert refs["warnings"] == ["base:1 is yanked: wrong greeting"]
    assert f"- referenced by: {user}" in refs["markdown"]
    assert "base_ref" in refs["markdown"] and "toolvault add" not in refs["markdown"]
    assert [v["version"] for v in got["range"]["versions"]] == [1, 2]
    cut = got["cut"]["versions"]
    assert [(v["truncated"], len(v["content"].encode())) for v in cut] == [(True, 30), (True, 0)]
    assert cut[0]["omitted_bytes"] == len(PY.encode()) - 30
    assert "content cut at 30 of" in got["cut"]["markdown"]
    assert got["deep"]["code"] == "invalid_input"


def test_diff_of_two_versions_of_a_previous_and_of_unpublished_content(vault: Vault) -> None:
    vault.publish("hello", SH)
    vault.publish("hello", SH.replace("echo hello", "echo hi"))
    one, two = vault.get("hello:1").ref, vault.get("hello:2").ref

    async def body() -> None:
        async with connected(vault) as client:
            both = await ok(client, "diff", old="hello:1", new="hello:2")
            assert (both["old_ref"], both["new_ref"]) == (one, two)
            assert "-echo hello\n+echo hi\n" in both["diff"]
            assert await ok(client, "diff", old="hello:2") == both
            first = await ok(client, "diff", old="hello:1")
            assert first["old_ref"] is None and first["added"] == 3
            draft = await ok(client, "diff", old="hello", content=SH + "echo bye\n")
            assert (draft["old_ref"], draft["new_ref"], draft["added"]) == (two, None, 2)
            assert draft["removed"] == 1
            error = await refused(client, "diff", old="hello", new="hello:1", content="x")
            assert error["code"] == "invalid_input"

    run(body)


def test_publish_builds_on_a_base_ref_and_a_stale_one_writes_nothing(vault: Vault) -> None:
    async def body() -> None:
        async with connected(vault) as client:
            made = await ok(client, "publish", name="fmt", content=SH, message="first")
            assert made["created"] and made["ref"] == vault.get("fmt").ref
            again = await refused(client, "publish", name="fmt", content=SH + "#\n")
            assert again["code"] == "stale_base"
            two = await ok(
                client,
                "publish",
                name="fmt",
                content=SH + "# two\n",
                base_ref=made["ref"],
                prompt="make it two",
                session="s-1",
                references=["fmt:1"],
                message="second",
                description="Formats.",
                usage="Usage: fmt",
            )
            assert two["version"] == 2 and two["ref"] == vault.get("fmt").ref
            stale = await refused(
                client, "publish", name="fmt", content=SH + "# three\n", base_ref=made["ref"]
            )
            assert stale["code"] == "stale_base"
            assert stale["details"]["current"]["ref"] == two["ref"]
            assert f'publish again with base_ref "{two["ref"]}"' in stale["message"]
            assert "--expect" not in stale["message"] + again["message"]
            assert "get_context" in again["message"]
            nothing = await refused(
                client, "publish", name="new-tool", content=SH, base_ref="new-tool:1"
            )
            assert (nothing["code"], nothing["details"]["current"]) == ("stale_base", None)
            assert "without base_ref creates a new tool" in nothing["message"]

    run(body)
    assert [v.version for v in vault.versions("fmt")] == [1, 2]
    two = vault.get("fmt:2")
    assert (two.prompt, two.session_id, two.message) == ("make it two", "s-1", "second")
    assert (two.description, two.usage) == ("Formats.", "Usage: fmt")
    assert two.references == (vault.get("fmt:1").ref,)
    assert vault.verify().ok


def test_label_verify_and_lineage(vault: Vault) -> None:
    vault.publish("base", SH)
    vault.publish("user", SH + "# uses base\n", references=["base:1"])

    async def body() -> None:
        async with connected(vault) as client:
            labelled = await ok(client, "label", spec="base:1", label="stable")
            assert labelled == {"name": "base", "label": "stable", "ref": vault.get("base").ref}
            report = await ok(client, "verify")
            assert report["ok"] and report["problems"] == []
            graph = await ok(client, "lineage", spec="user")
            assert graph["root"] == vault.get("user").ref
            assert {n["ref"] for n in graph["nodes"]} == {
                vault.get("user").ref,
                vault.get("base").ref,
            }
            back = await ok(client, "lineage", spec="base", reverse=True, depth=None)
            assert vault.get("user").ref in {n["ref"] for n in back["nodes"]}

    run(body)
    assert vault.get("base:stable").version == 1


def test_each_error_is_a_tool_error_with_its_code_and_nothing_is_written(vault: Vault) -> None:
    vault.publish("hello", SH)
    before = [v.ref for v in vault.all_versions()]

    async def body() -> dict[str, str]:
        async with connected(vault) as client:
            codes = {
                "not_found": await refused(client, "describe", spec="hello:7"),
                "no_tool": await refused(client, "list_versions", name="nope"),
                "invalid_spec": await refused(client, "describe", spec="hello:0x"),
                "schema": await refused(client, "describe", spec=3),
                "missing": await refused(client, "publish", name="x"),
                "query": await refused(client, "search_tools", query='"unbalanced'),
                "binary": await refused(client, "publish", name="nul", content="a\x00b"),
                "too_large": await refused(
                    client, "publish", name="big", content="#" * (1024 * 1024 + 1)
                ),
                "bad_label": await refused(client, "label", spec="hello:1", label="latest"),
                "no_spec": await refused(client, "get_context", specs=[]),
            }
        assert "version 1" in codes["not_found"]["message"]
        return {k: v["code"] for k, v in codes.items()}

    assert run(body) == {
        "not_found": "not_found",
        "no_tool": "not_found",
        "invalid_spec": "invalid_spec",
        "schema": "invalid_input",
        "missing": "invalid_input",
        "query": "invalid_input",
        "binary": "invalid_input",
        "too_large": "too_large",
        "bad_label": "invalid_spec",
        "no_spec": "invalid_input",
    }
    assert [v.ref for v in vault.all_versions()] == before


def test_resources_and_templates(vault: Vault) -> None:
    vault.publish("csv-sum", PY)
    vault.publish("hello", SH)

    async def body() -> None:
        async with connected(vault) as client:
            listed = [str(r.uri) for r in (await client.list_resources()).resources]
            assert listed == ["toolvault://tools"]
            templates = {
                t.uri_template for t in (await client.list_resource_templates()).resource_templates
            }
            assert templates == {
                "toolvault://tools/{name}",
                "toolvault://versions/{name}/{version}",
            }
            index = json.loads(await text(client, "toolvault://tools"))
            assert [t["latest_ref"] for t in index["tools"]] == [
                vault.get("csv-sum").ref,
                vault.get("hello").ref,
            ]
            tool = json.loads(await text(client, "toolvault://tools/hello"))
            assert tool["owner"] and tool["versions"][0]["ref"] == vault.get("hello").ref
            py = (await client.read_resource("toolvault://versions/csv-sum/1")).contents[0]
            sh = (await client.read_resource("toolvault://versions/hello/1")).contents[0]
            assert (py.mime_type, py.text) == ("text/x-python", PY)
            assert (sh.mime_type, sh.text) == ("text/x-shellscript", SH)
            for uri, code in [
                ("toolvault://versions/hello/2", "not_found"),
                ("toolvault://versions/hello/latest", "invalid_input"),
                ("toolvault://tools/nope", "not_found"),
                ("toolvault://tools/..", "invalid_input"),
                ("toolvault://tools/a%2Fb", "invalid_spec"),
            ]:
                with pytest.raises(MCPError) as caught:
                    await client.read_resource(uri)
                assert caught.value.data["code"] == code, uri

    run(body)


async def text(client: Client, uri: str) -> str:
    (content,) = (await client.read_resource(uri)).contents
    return str(content.text)  # type: ignore[union-attr]


def test_the_improve_tool_prompt_gives_the_context_and_the_base_ref(vault: Vault) -> None:
    vault.publish("csv-sum", PY)
    ref = vault.get("csv-sum").ref

    async def body() -> None:
        async with connected(vault) as client:
            (prompt,) = (await client.list_prompts()).prompts
            assert prompt.name == "improve_tool"
            assert {a.name for a in prompt.arguments or []} == {"spec", "goal"}
            got = await client.get_prompt(
                "improve_tool", {"spec": "csv-sum", "goal": "skip blank rows"}
            )
            (message,) = got.messages
            said = message.content.text  # type: ignore[union-attr]
            assert "skip blank rows" in said and PY in said
            assert f'base_ref="{ref}"' in said and "stale_base" in said
            with pytest.raises(MCPError) as caught:
                await client.get_prompt("improve_tool", {"spec": "nope", "goal": "x"})
            assert caught.value.data["code"] == "not_found"

    run(body)


def another_process_publishes(vault: Vault, home: Path, name: str) -> None:
    """``toolvault add`` in a process of its own, on the same database."""
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    if vault.store.dialect == "postgres":
        env["TOOLVAULT_DB"] = vault.store.url  # type: ignore[attr-defined]
    subprocess.run(
        [sys.executable, "-m", "toolvault", "add", "-", "--name", name],
        input=SH.encode(),
        env=env,
        check=True,
        capture_output=True,
    )


def test_a_change_by_another_process_is_announced_to_listeners(vault: Vault, home: Path) -> None:
    vault.publish("hello", SH)

    async def body() -> list[Any]:
        async with connected(vault) as client, client.listen(resources_list_changed=True) as sub:
            events = []
            with anyio.fail_after(20):
                another_process_publishes(vault, home, "other")
                events.append(await sub.__anext__())
                await ok(client, "publish", name="mine", content=SH)
                events.append(await sub.__anext__())
            return events

    events = run(body)
    assert [type(e).__name__ for e in events] == ["ResourcesListChanged"] * 2


def test_a_handshake_era_client_gets_list_changed_notifications(vault: Vault, home: Path) -> None:
    async def body() -> None:
        seen = anyio.Event()

        async def handler(message: Any) -> None:
            if getattr(message, "method", None) == "notifications/resources/list_changed":
                seen.set()

        async with connected(vault, mode="legacy", message_handler=handler) as client:
            assert client.protocol_version == "2025-11-25"
            caps = client.server_capabilities
            assert caps.resources is not None and caps.resources.list_changed
            await ok(client, "list_tools")  # the session is known once it asked something
            with anyio.fail_after(20):
                another_process_publishes(vault, home, "other")
                await seen.wait()

    run(body)
