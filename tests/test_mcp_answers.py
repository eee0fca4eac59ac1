"""get_context's kept answers (toolvault.mcpserver.answers): the same call is answered
from what was kept while nothing was written, and any change a context document shows
(a publish, a label, a yank, a lifecycle, an owner, a trusted key; by this server or by
another process) changes the answer at the very next call, locally and on the daemon.
The cache is bounded, and never shares an answer between principals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from mcp_helpers import PY, SH, ok, run
from test_mcp import another_process_publishes
from test_mcp_http import mcp_client
from test_server import Daemon, make_token
from toolvault import mcpserver
from toolvault.mcpserver.answers import Answers
from toolvault.service.publishing import NewVersion
from toolvault.vault import Vault


def served(vault: Vault) -> tuple[Any, Answers]:
    """The MCP server over ``vault`` and the answers it keeps."""
    backend = mcpserver.LocalBackend(vault)
    kept = Answers(backend.marker)
    server, _ = mcpserver.build(backend, interval=0.05, answers=kept)
    return server, kept


def test_the_same_call_is_answered_from_what_was_kept_until_a_write(vault: Vault) -> None:
    vault.publish("csv-sum", PY)
    server, kept = served(vault)

    async def body() -> list[Any]:
        async with Client(server) as client:
            first = await ok(client, "get_context", specs=["csv-sum"])
            again = await ok(client, "get_context", specs=["csv-sum"])
            assert (kept.misses, kept.hits) == (1, 1)
            other = await ok(client, "get_context", specs=["csv-sum"], max_bytes=10)
            assert (kept.misses, kept.hits) == (2, 1)  # other arguments: another answer
            vault.label("csv-sum:1", "stable")
            labelled = await ok(client, "get_context", specs=["csv-sum"])
            assert (kept.misses, kept.hits) == (3, 1)
            return [first, again, other, labelled]

    first, again, other, labelled = run(body)
    assert again == first
    assert other["versions"][0]["truncated"] is True
    assert first["versions"][0]["labels"] == [] and labelled["versions"][0]["labels"] == ["stable"]


def _label(vault: Vault) -> Callable[[dict[str, Any]], bool]:
    vault.label("fmt:1", "stable")
    return lambda v: v["labels"] == ["stable"]


def _unlabel(vault: Vault) -> Callable[[dict[str, Any]], bool]:
    vault.delete_label("fmt", "stable")  # labelled before the first call
    return lambda v: v["labels"] == []


def _yank(vault: Vault) -> Callable[[dict[str, Any]], bool]:
    vault.yank("fmt:1", "leaks a secret")
    return lambda v: v["yanked"] == "leaks a secret"


def _deprecate(vault: Vault) -> Callable[[dict[str, Any]], bool]:
    vault.set_lifecycle("fmt", "deprecated", "use fmt2")
    return lambda v: (
        (v["tool"]["lifecycle"], v["tool"]["lifecycle_message"])
        == (
            "deprecated",
            "use fmt2",
        )
    )


def _transfer(vault: Vault) -> Callable[[dict[str, Any]], bool]:
    vault.transfer("fmt", "bob")
    return lambda v: v["tool"]["owner"] == "bob"


def _publish(vault: Vault) -> Callable[[dict[str, Any]], bool]:
    vault.publish("fmt", SH + "# two\n")
    return lambda v: v["version"] == 2 and v["content"].endswith("# two\n")


def _untrust(vault: Vault) -> Callable[[dict[str, Any]], bool]:
    vault.untrust("team")
    return lambda v: v["signature_status"].startswith("untrusted key")


CHANGES = {
    "label": _label,
    "unlabel": _unlabel,
    "yank": _yank,
    "deprecate": _deprecate,
    "transfer": _transfer,
    "publish": _publish,
    "untrust": _untrust,
}


@pytest.mark.parametrize("change", CHANGES)
def test_each_change_a_document_shows_changes_the_answer_at_once(vault: Vault, change: str) -> None:
    vault.generate_key("team")
    vault.publish_many([NewVersion("fmt", SH)], sign_with="team")
    if change == "unlabel":
        vault.label("fmt:1", "stable")
    server, kept = served(vault)
    specs = ["fmt" if change == "publish" else "fmt:1"]

    async def body() -> tuple[dict[str, Any], dict[str, Any]]:
        async with Client(server) as client:
            before = await ok(client, "get_context", specs=specs)
            assert (await ok(client, "get_context", specs=specs)) == before  # kept
            assert kept.hits == 1
            holds = CHANGES[change](vault)
            after = await ok(client, "get_context", specs=specs)
            assert holds(after["versions"][0]), after["versions"][0]
            assert not holds(before["versions"][0])
            return before, after

    before, after = run(body)
    assert after != before
    assert after["markdown"] != before["markdown"]


def test_a_write_by_another_process_changes_the_answer_at_once(vault: Vault, home: Path) -> None:
    vault.publish("other", PY)
    server, kept = served(vault)

    async def body() -> tuple[dict[str, Any], dict[str, Any]]:
        async with Client(server) as client:
            before = await ok(client, "get_context", specs=["other"])
            assert (await ok(client, "get_context", specs=["other"])) == before
            another_process_publishes(vault, home, "other")  # other:2, in its own process
            return before, await ok(client, "get_context", specs=["other"])

    before, after = run(body)
    assert [v["version"] for v in before["versions"]] == [1]
    assert [v["version"] for v in after["versions"]] == [2]
    assert kept.hits == 1


def result(size: int) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text="x" * size)])


def test_the_kept_answers_are_bounded_in_entries_and_bytes() -> None:
    kept = Answers(lambda: (1, "h"), max_entries=3, max_bytes=8000)
    for n in range(5):
        kept.put(("k", n), (1, "h"), result(10), 100)
    assert list(kept.kept) == [("k", 2), ("k", 3), ("k", 4)] and kept.size == 300
    kept.get(("k", 2), (1, "h"))  # used: the least recently used is now k3
    kept.put(("k", 5), (1, "h"), result(10), 100)
    assert list(kept.kept) == [("k", 4), ("k", 2), ("k", 5)]
    kept.put(("big", 0), (1, "h"), result(10), 1001)  # over an eighth of the bytes
    assert ("big", 0) not in kept.kept
    for n in range(3):
        kept.put(("m", n), (1, "h"), result(10), 1000)
    assert kept.size <= 8000 and len(kept.kept) <= 3
    assert kept.get(("m", 2), (2, "g")) is None  # kept under another head: dropped
    assert ("m", 2) not in kept.kept and kept.size == sum(e[2] for e in kept.kept.values())


def test_an_answer_is_not_kept_when_a_write_lands_while_it_is_read() -> None:
    heads = iter([(1, "a"), (2, "b"), (2, "b"), (2, "b"), (2, "b")])
    kept = Answers(lambda: next(heads))
    data = {"markdown": "m", "versions": [], "warnings": []}
    kept.answer("k", lambda: data)  # head 1 before, 2 after: not one state
    assert not kept.kept
    kept.answer("k", lambda: data)
    assert kept.answer("k", lambda: data).structured_content == data
    assert (kept.misses, kept.hits) == (2, 1)


def test_without_a_head_nothing_is_kept() -> None:
    kept = Answers(lambda: None)
    data = {"markdown": "m", "versions": [], "warnings": []}
    for _ in range(2):
        kept.answer("k", lambda: data)
    assert not kept.kept and kept.hits == 0


# -- the daemon ----------------------------------------------------------------------------


def test_on_the_daemon_a_label_and_a_publish_change_the_answer_at_once(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    alice, bob = make_token(home, "alice"), make_token(home, "bob", "--read-only")
    daemon = Daemon(home)
    try:

        async def body() -> list[dict[str, Any]]:
            async with mcp_client(daemon, alice) as client, mcp_client(daemon, bob) as reader:
                made = await ok(client, "publish", name="fmt", content=SH)
                seen = [await ok(client, "get_context", specs=["fmt"]) for _ in range(2)]
                seen.append(await ok(reader, "get_context", specs=["fmt"]))
                labelled = daemon.call(
                    "POST", "/v1/labels", alice, json={"spec": "fmt:1", "label": "ok"}
                )
                assert labelled.status_code in (200, 201), labelled.text
                seen.append(await ok(reader, "get_context", specs=["fmt"]))
                with Vault.open(home) as other:  # another connection, as another process
                    other.publish("fmt", SH + "# two\n")
                assert made["version"] == 1
                seen.append(await ok(client, "get_context", specs=["fmt"]))
                return seen

        first, again, read, labelled, published = run(body)
    finally:
        daemon.stop()
    assert again == first == read
    assert labelled["versions"][0]["labels"] == ["ok"]
    assert published["versions"][0]["version"] == 2
