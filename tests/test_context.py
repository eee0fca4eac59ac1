"""``context`` as an agent uses it (SPEC §11, issue 14): each version's state (yank,
lifecycle, owner, labels, session, signature), a byte budget cut visibly and never inside
a character, the versions referenced (a diamond once), ranges, long prompts kept line by
line; and pinned refs in every JSON listing, the same locally and through the daemon."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_cli import assert_one_line_error, ok, tv, write
from test_server import Daemon, make_token
from toolvault import Vault

PROMPT = "# Goal\nmake base faster\n\n## Steps\n#1 keep the output\n  indented line"
MESSAGE = "faster\n# not a heading either"


BASE3 = "#!/bin/sh\n# Say base.\n#\n# Usage: base [-n]\necho base two\necho fast\n"


def build(home: Path, src: Path) -> None:
    """root:1 <- base:1 <- left:1, right:1 <- top:1 (a diamond over base:1); base:3 with a
    long prompt and message, a description and usage, labelled stable; base:4 yanked; old
    deprecated; uni with multibyte text."""
    src.mkdir(parents=True, exist_ok=True)

    def add(name: str, text: str, *more: str) -> None:
        ok("--home", str(home), "add", str(write(src / name, text)), *more)

    add("root.sh", "echo root\n")
    add("base.sh", "echo base one\n", "--ref", "root:1", "--session", "s-1")
    add("base.sh", "echo base two\n")
    add("base.sh", BASE3, "--prompt", PROMPT, "-m", MESSAGE)
    add("base.sh", "echo broken\n")
    ok("--home", str(home), "yank", "base:4", "--reason", "leaks the token")
    ok("--home", str(home), "label", "base:3", "stable")
    add("left.sh", "echo left\n", "--ref", "base:1")
    add("right.sh", "echo right\n", "--ref", "base:1")
    add("top.sh", "echo top\n", "--ref", "left", "--ref", "right", "--session", "s-9")
    add("old.sh", "echo old\n")
    ok("--home", str(home), "deprecate", "old", "-m", "use top instead")
    add("uni.txt", "aé€😀\n")


@pytest.fixture
def vault_home(home: Path, tmp_path: Path) -> Path:
    build(home, tmp_path / "src")
    return home


def js(*args: str) -> Any:
    return json.loads(ok(*args, "--json").stdout)


def refs_of(items: list[dict[str, Any]]) -> list[str]:
    return [f"{i['name']}:{i['version']}" for i in items]


# -- what each version says --------------------------------------------------------------


def test_a_yanked_version_is_marked_and_warned_about(vault_home: Path) -> None:
    result = ok("context", "base:4")
    assert result.stderr == "toolvault: warning: base:4 is yanked: leaks the token\n"
    assert "- yanked: YANKED (leaks the token); do not build on it\n" in result.stdout
    (item,) = js("context", "base:4")
    assert item["yanked"] == "leaks the token" and item["tool"]["latest_version"] == 3


def test_a_deprecated_tool_says_so_with_its_message(vault_home: Path) -> None:
    result = ok("context", "old")
    assert result.stderr == ""
    assert "- lifecycle: deprecated (use top instead)\n" in result.stdout
    assert "- yanked: no\n" in result.stdout
    (item,) = js("context", "old")
    assert item["tool"]["lifecycle"] == "deprecated"
    assert item["tool"]["lifecycle_message"] == "use top instead"
    assert item["yanked"] is None


def test_each_version_carries_owner_session_labels_signature_description_usage(
    vault_home: Path,
) -> None:
    text = ok("context", "base:stable", "base:1").stdout
    second, first = text.split("\n## ")[1:]
    assert second.startswith("base:3\n") and first.startswith("base:1\n")
    for line in (
        "- labels: stable",
        "- signature: unsigned",
        "- description: Say base.",
        "- session: -",
        "- owner: ",
        "- usage:\n\n    Usage: base [-n]",
    ):
        assert line in second, line
    assert "- session: s-1\n" in first and "- labels: -\n" in first
    three, one = js("context", "base:stable", "base:1")
    assert three["labels"] == ["stable"] and three["signature_status"] == "unsigned"
    assert three["description"] == "Say base." and three["usage"] == "Usage: base [-n]"
    assert one["session_id"] == "s-1" and three["tool"]["owner"] == one["owner"]
    assert three["ref"] == f"base:3@sha256:{three['sha256']}" and three["depth"] == 0


def test_long_prompts_and_messages_keep_their_lines_and_make_no_heading(vault_home: Path) -> None:
    text = ok("context", "base:3").stdout
    fenced = "\n".join(f"  {line}".rstrip() for line in PROMPT.splitlines())
    assert f"- prompt:\n\n  ```text\n{fenced}\n  ```\n" in text
    assert "- message:\n\n  ```text\n  faster\n  # not a heading either\n  ```\n" in text
    headings, inside, fence = [], False, ""
    for line in text.splitlines():  # a Markdown reader's view: headings outside fences
        bare = line.strip()
        if not inside and bare.startswith("```"):
            inside, fence = True, bare[: len(bare) - len(bare.lstrip("`"))]
        elif inside and bare == fence:
            inside = False
        elif not inside and line.lstrip(" ").startswith("#"):
            headings.append(line)
    assert headings == ["# Tool versions from toolvault (1)", "## base:3"]
    (item,) = js("context", "base:3")
    assert item["prompt"] == PROMPT and item["message"] == MESSAGE


# -- --max-bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_max_bytes_at_and_around_the_cut(vault_home: Path, delta: int) -> None:
    full = BASE3
    size = len(full.encode())
    budget = str(size + delta)
    (item,) = js("context", "base:3", "--max-bytes", budget)
    text = ok("context", "base:3", "--max-bytes", budget).stdout
    assert item["size"] == size
    if delta < 0:
        assert (item["content"], item["truncated"], item["omitted_bytes"]) == (full[:-1], True, 1)
        assert f"\n{full[:-1]}\n```\n\n> toolvault: content cut at {size - 1} of {size} " in text
        assert f"1 bytes left out. `toolvault cat {item['ref']}` prints all of it.\n" in text
    else:
        assert (item["content"], item["truncated"], item["omitted_bytes"]) == (full, False, 0)
        assert "content cut" not in text and f"\n{full}```\n" in text


def test_max_bytes_never_splits_a_character(vault_home: Path) -> None:
    from toolvault.contextdoc import cut

    full = "aé€😀\n"
    data = full.encode()
    for budget in range(len(data) + 2):
        (item,) = js("context", "uni", "--max-bytes", str(budget))
        shown = item["content"].encode()
        assert data.startswith(shown) and len(shown) <= budget
        assert len(shown) == max(n for n in (0, 1, 3, 6, 10, 11) if n <= budget)
        assert item["truncated"] is (len(shown) < len(data))
        assert item["omitted_bytes"] == len(data) - len(shown)
        assert cut(full, budget)[0] == item["content"]


def test_max_bytes_is_one_budget_spent_in_order(vault_home: Path) -> None:
    root, base = js("context", "root", "base:1", "--max-bytes", "12")
    assert (root["content"], root["truncated"]) == ("echo root\n", False)  # 10 bytes
    assert (base["content"], base["omitted_bytes"]) == ("ec", 12)
    empty = js("context", "root", "--max-bytes", "0")[0]
    assert (empty["content"], empty["omitted_bytes"]) == ("", 10)


@pytest.mark.parametrize("bad", ["-1", "x", "1.5", ""])
def test_a_bad_max_bytes_is_refused(vault_home: Path, bad: str) -> None:
    result = tv("context", "root", "--max-bytes", bad)
    assert result.exit_code == 2 and "Invalid value for '--max-bytes'" in result.stderr


# -- --with-refs ------------------------------------------------------------------------


def test_with_refs_over_a_diamond_gives_each_version_once(vault_home: Path) -> None:
    two = js("context", "top", "--with-refs", "2")
    assert refs_of(two) == ["top:1", "left:1", "right:1", "base:1"]
    assert [i["depth"] for i in two] == [0, 1, 1, 2]
    assert [i["via"] for i in two] == [None, two[0]["ref"], two[0]["ref"], two[1]["ref"]]
    assert refs_of(js("context", "top", "--with-refs")) == ["top:1", "left:1", "right:1"]
    assert refs_of(js("context", "top", "--with-refs=3")) == [
        "top:1",
        "left:1",
        "right:1",
        "base:1",
        "root:1",
    ]
    assert refs_of(js("context", "top", "left", "--with-refs", "1")) == [
        "top:1",
        "left:1",
        "right:1",
        "base:1",
    ]
    text = ok("context", "top", "--with-refs", "2").stdout
    assert text.startswith("# Tool versions from toolvault (4)")
    assert text.count("\n## base:1\n") == 1 and f"- referenced by: {two[1]['ref']}\n" in text


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--with-refs", "0"], "not a depth from 1 to 16"),
        (["--with-refs", "17"], "not a depth from 1 to 16"),
        (["--with-refs=-1"], "-1"),  # click: no such option
        (["--with-refs", "two"], "not a depth"),
    ],
)
def test_a_bad_depth_is_refused(vault_home: Path, argv: list[str], says: str) -> None:
    result = tv("context", "top", *argv)
    assert result.exit_code == 2 and says in result.stderr, result.output


def test_a_spec_taken_for_the_depth_gets_a_hint(vault_home: Path) -> None:
    result = tv("context", "--with-refs", "top")
    assert result.exit_code == 2
    assert "give --with-refs after the specs" in result.stderr


def test_a_dangling_reference_is_left_out_with_a_warning(vault_home: Path, tmp_path: Path) -> None:
    src = write(tmp_path / "lone.sh", "echo lone\n")
    ok("add", str(src), "--ref", "ghost:3", "--allow-dangling")
    result = ok("context", "lone", "--with-refs", "--json")
    assert refs_of(json.loads(result.stdout)) == ["lone:1"]
    assert "lone:1 references ghost:3, which does not resolve; left out" in result.stderr


# -- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "versions"),
    [
        ("base:1..3", ["base:1", "base:2", "base:3"]),
        ("base:2..latest", ["base:2", "base:3"]),  # latest skips the yanked 4
        ("base:stable..4", ["base:3", "base:4"]),
        ("base:-2..-1", ["base:1", "base:2"]),
        ("base:3..3", ["base:3"]),
    ],
)
def test_a_range_gives_each_version_in_it(vault_home: Path, spec: str, versions: list[str]) -> None:
    assert refs_of(js("context", spec)) == versions


def test_a_range_and_a_version_in_it_give_it_once(vault_home: Path) -> None:
    assert refs_of(js("context", "base:2", "base:1..3")) == ["base:2", "base:1", "base:3"]


@pytest.mark.parametrize(
    ("spec", "code", "says"),
    [
        ("base:3..1", 2, "runs backwards; give the older end first (base:1..3)"),
        ("base:latest..1", 2, "runs backwards: base:latest is version 3"),
        ("base:..2", 2, "give two ends"),
        ("base:1..", 2, "give two ends"),
        ("base:1..2..3", 2, "give two ends"),
        ("base:1..versions", 2, "an end is N, -K, latest, previous or a label"),
        ("base:0..2", 2, "versions are numbered from 1"),
        ("base:1@sha256:abcdef12..2", 2, "an end is N, -K, latest, previous or a label"),
        ("base:1..9", 1, "tool 'base' has versions 1..4; there is no version 9"),
        ("nope:1..2", 1, "no tool named 'nope'"),
    ],
)
def test_a_bad_range_is_refused(vault_home: Path, spec: str, code: int, says: str) -> None:
    result = tv("context", spec)
    assert result.exit_code == code
    assert_one_line_error(result, says)


@pytest.mark.parametrize("command", [["cat"], ["show"], ["diff"], ["refs"]])
def test_only_context_takes_a_range(vault_home: Path, command: list[str]) -> None:
    result = tv(*command, "base:1..2")
    assert result.exit_code == 2
    assert_one_line_error(result, "names a range of versions, not one version")


# -- the library, over both stores ----------------------------------------------------------


def test_gather_over_each_store(vault: Vault) -> None:
    from toolvault.context import gather

    vault.publish("lib", b"echo lib\n")
    vault.publish("a", b"echo a\n", references=("lib",))
    vault.publish("b", b"echo b\n", references=("lib",))
    vault.publish("app", b"echo app\n", references=("a", "b"))
    vault.publish("lib", b"echo lib two\n")
    vault.yank("lib:2", "bad")
    found = gather(vault, ["app", "lib:1..2"], with_refs=2, max_bytes=20)
    assert refs_of(found.items) == ["app:1", "lib:1", "lib:2", "a:1", "b:1"]
    assert [i["truncated"] for i in found.items] == [False, False, True, True, True]
    assert found.warnings == ["lib:2 is yanked: bad"]


# -- pinned refs in every JSON output, locally and through the daemon -------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Daemon, str]]:
    """A daemon over a vault built by build(), and a token."""
    root = tmp_path_factory.mktemp("served")
    home = root / "home"
    build(home, root / "src")
    token = make_token(home, "alice", "--admin")
    daemon = Daemon(home)
    try:
        yield home, daemon, token
    finally:
        daemon.stop()


READS = [
    ["show", "base:2"],
    ["show", "base:4"],
    ["versions", "base"],
    ["versions", "base", "history"],
    ["ls", "--all"],
    ["context", "top", "--with-refs", "2", "--max-bytes", "12"],
    ["context", "base:1..latest", "old"],
]


@pytest.mark.parametrize("argv", READS, ids=" ".join)
def test_reads_are_the_same_locally_and_through_the_daemon(
    served: tuple[Path, Daemon, str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    home, daemon, token = served
    local = [ok("--home", str(home), *argv, *j) for j in ([], ["--json"])]
    monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", token)
    remote = [ok(*argv, *j) for j in ([], ["--json"])]
    assert [r.stdout for r in remote] == [r.stdout for r in local]
    assert '"ref": "' in local[1].stdout  # each version (or outcome) with its pinned ref
    assert [r.stderr for r in remote] == [r.stderr for r in local]


def test_every_listing_carries_pinned_refs_and_yanks(vault_home: Path) -> None:
    show = js("show", "base:2")
    assert show["ref"] == f"base:2@sha256:{show['sha256']}"
    for listing in (js("versions", "base"), js("ls", "--all"), js("versions", "base", "history")):
        assert all(v["ref"] == f"{v['name']}:{v['version']}@sha256:{v['sha256']}" for v in listing)
        assert {v["ref"]: v["yanked"] for v in listing if v["name"] == "base"} == {
            f"base:{n}@sha256:{sha}": ("leaks the token" if n == 4 else None)
            for n, sha in ((v["version"], v["sha256"]) for v in listing if v["name"] == "base")
        }


def test_history_json_carries_what_its_text_shows(vault_home: Path) -> None:
    history = js("versions", "base", "history")
    assert history != js("versions", "base")
    one, two, three, four = history
    assert one["previous"] is None and one["session_id"] == "s-1"
    assert one["references"] == [f"root:1@sha256:{js('show', 'root')['sha256']}"]
    assert two["previous"] == one["ref"] and three["previous"] == two["ref"]
    assert (three["prompt"], three["message"], three["labels"]) == (PROMPT, MESSAGE, ["stable"])
    assert four["yanked"] == "leaks the token" and four["labels"] == []
    text = ok("versions", "base", "history").stdout
    assert "    YANKED: leaks the token\n" in text and "    labels: stable\n" in text
    assert "    session: s-1\n" in text and "    after 2\n" in text


def test_add_and_rollback_json_carry_the_pinned_ref(
    served: tuple[Path, Daemon, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home, daemon, token = served
    src, two = write(tmp_path / "pin.sh", "echo pin\n"), write(tmp_path / "two.sh", "echo 2\n")

    def publish(*home: str, name: str) -> list[Any]:
        added = js(*home, "add", str(src), "--name", name)
        js(*home, "add", str(two), "--name", name)
        return [added, js(*home, "rollback", name, "1")]

    local = publish("--home", str(home), name="pinlocal")
    monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", token)
    remote = publish(name="pinremote")
    for added, rolled in (local, remote):
        (one,) = added
        assert one["ref"] == f"{one['name']}:1@sha256:{one['sha256']}"
        assert rolled["ref"] == f"{one['name']}:3@sha256:{one['sha256']}"
        assert (
            set(one) == set(rolled) == {"name", "version", "sha256", "created", "warnings", "ref"}
        )
    http = daemon.publish(token, "pinhttp", "echo pin\n").json()
    assert http[0]["ref"] == f"pinhttp:1@sha256:{one['sha256']}"
