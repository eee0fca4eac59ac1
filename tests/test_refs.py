"""Versioned references (SPEC §2, issue 6): add --ref pins, refs lists both directions,
dangling references are refused unless allowed, and context loads versions for an agent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from test_cli import assert_one_line_error, dump, js, ok, tv, write
from test_legacy import ANALYZER, ENHANCED, build_port42
from toolvault import Vault


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    """A Port42 home migrated with --fold enhanced (analyzer:1..5, reporter:1, tie:1..2)."""
    root = tmp_path / ".port42"
    build_port42(root)
    ok("migrate-legacy", "--port42-home", str(root), "--fold", "enhanced")
    return root


def test_a_p42_reference_is_pinned_and_found_in_reverse(tmp_path: Path, migrated: Path) -> None:
    src = write(tmp_path / "analyzer.py", "#!/usr/bin/env python3\nprint('better errors')\n")
    added = js(
        "add",
        str(src),
        "--name",
        "analyzer",
        "--ref",
        "p42:/commands/analyzer:2",
        "--prompt",
        "improve error handling of analyzer:2",
        "--created-by",
        "@ai-engineer",
    )
    new = sha(src.read_text())
    assert added == [
        {
            "name": "analyzer",
            "version": 6,
            "sha256": new,
            "created": True,
            "ref": f"analyzer:6@sha256:{new}",
            # built on 2 while 5 is the latest: said, not refused (--expect-latest refuses)
            "warnings": [added[0]["warnings"][0]],
        }
    ]
    assert "the latest is analyzer:5@sha256:" in added[0]["warnings"][0]
    pinned = f"analyzer:2@sha256:{sha(ENHANCED)}"
    assert js("show", "analyzer:6")["references"] == [pinned]
    reverse = js("refs", "analyzer:2", "--reverse")
    assert reverse["version"] == pinned
    assert [(r["name"], r["version"], r["via"], r["exact"]) for r in reverse["referenced_by"]] == [
        ("analyzer", 6, pinned, True)
    ]
    assert "analyzer:6  via " + pinned in ok("refs", "analyzer:2", "--reverse").stdout
    assert "ref: " + pinned in ok("versions", "analyzer", "history").stdout
    forward = js("refs", "analyzer:6")["references"]
    assert forward == [
        {
            "ref": pinned,
            "status": "exact",
            "name": "analyzer",
            "version": 2,
            "sha256": sha(ENHANCED),
            "resolved": pinned,
        }
    ]


def test_a_dangling_reference_is_refused_and_nothing_is_written(
    tmp_path: Path, migrated: Path, home: Path
) -> None:
    src = write(tmp_path / "new.sh", "echo new\n")
    before = dump(home)
    for ref in ("p42:/commands/nothere:1", "analyzer:9", f"analyzer:1@sha256:{'0' * 64}"):
        result = tv("add", str(src), "--ref", ref)
        assert result.exit_code == 1, result.output
        assert_one_line_error(result, f"reference '{ref}' does not resolve")
    result = tv("add", str(src), "--ref", "analyzer:0", "--allow-dangling")
    assert result.exit_code == 2  # malformed is never dangling: it is wrong
    assert dump(home) == before


def test_allow_dangling_stores_the_reference_as_written(tmp_path: Path, migrated: Path) -> None:
    src = write(tmp_path / "plan.sh", "echo plan\n")
    result = tv(
        "add", str(src), "--ref", "p42:/commands/later:1", "--ref", "reporter:1", "--allow-dangling"
    )
    assert result.exit_code == 0, result.output
    assert "reference 'p42:/commands/later:1' does not resolve; stored as written" in result.stderr
    assert "reporter:1" not in result.stderr
    refs = js("show", "plan")["references"]
    assert refs == [
        "p42:/commands/later:1",
        f"reporter:1@sha256:{js('show', 'reporter')['sha256']}",
    ]
    assert [r["status"] for r in js("refs", "plan")["references"]] == ["dangling", "exact"]
    assert "dangling: stored as written" in ok("refs", "plan").stdout
    ok("add", str(write(tmp_path / "later.sh", "echo later\n")))  # now it resolves
    assert js("refs", "plan")["references"][0]["status"] == "resolves"
    (found,) = js("refs", "later:1", "--reverse")["referenced_by"]
    assert (found["name"], found["via"], found["exact"]) == ("plan", "p42:/commands/later:1", False)


def test_reverse_lookup_matches_exactly(tmp_path: Path) -> None:
    ok("add", str(write(tmp_path / "fmt.sh", "echo fmt\n")))
    ok("add", str(write(tmp_path / "Fmt.sh", "echo Fmt\n")))  # LIKE ignores case in SQLite
    ok("add", str(write(tmp_path / "a_b.sh", "echo a_b\n")))
    ok("add", str(write(tmp_path / "aXb.sh", "echo aXb\n")))  # '_' is LIKE's wildcard
    ok("add", str(write(tmp_path / "app.sh", "echo app\n")), "--ref", "Fmt", "--ref", "aXb:1")
    assert js("refs", "fmt:1", "--reverse")["referenced_by"] == []
    assert js("refs", "a_b:1", "--reverse")["referenced_by"] == []
    assert [r["name"] for r in js("refs", "Fmt:1", "--reverse")["referenced_by"]] == ["app"]
    assert "nothing references fmt:1" in ok("refs", "fmt", "--reverse").stdout
    lines = ok("refs", "app").stdout.splitlines()
    assert [line.split("@")[0] for line in lines] == ["Fmt:1", "aXb:1"]
    assert "fmt:1 references nothing" in ok("refs", "fmt").stdout


def test_refs_of_a_missing_or_malformed_spec(migrated: Path) -> None:
    missing = tv("refs", "analyzer:42")
    assert missing.exit_code == 1
    assert_one_line_error(missing, "tool 'analyzer' has versions 1..5; there is no version 42")
    bad = tv("refs", "analyzer:0", "--reverse")
    assert bad.exit_code == 2
    assert_one_line_error(bad, "invalid")


def test_context_prints_each_version_for_a_prompt(migrated: Path) -> None:
    text = ok("context", "analyzer:1", "reporter").stdout
    assert text.startswith("# Tool versions from toolvault (2)")
    first, second = text.split("\n## ")[1:]
    assert first.startswith("analyzer:1\n")
    for line in (
        "- name: analyzer",
        "- version: 1",
        f"- ref: analyzer:1@sha256:{sha(ANALYZER[0])}",
        f"- sha256: {sha(ANALYZER[0])}",
        "- created_by: @ai-engineer",
        "- prompt: analyze log files",
        "```python\n" + ANALYZER[0] + "```",
    ):
        assert line in first, line
    assert "- prompt: -" in second and "```bash\n#!/bin/bash\necho report\n```" in second
    assert "- references: analyzer:3@sha256:" in second


def test_context_json_and_fences_around_backticks(tmp_path: Path) -> None:
    body = "#!/bin/sh\ncat <<'EOF'\n```\nnot the end\n````\nEOF\n"
    ok("add", str(write(tmp_path / "doc.sh", body)), "--prompt", "write\nthe docs")
    text = ok("context", "doc").stdout
    assert "`````sh\n" + body + "`````\n" in text  # longer than any run inside
    assert "- prompt:\n\n  ```text\n  write\n  the docs\n  ```\n" in text  # its lines kept
    (item,) = json.loads(ok("context", "doc:1", "doc", "--json").stdout)  # duplicates once
    assert item["content"] == body and item["ref"] == f"doc:1@sha256:{sha(body)}"
    assert item["prompt"] == "write\nthe docs" and item["version"] == 1


def test_context_of_missing_and_malformed_specs(tmp_path: Path) -> None:
    ok("add", str(write(tmp_path / "doc.sh", "echo doc\n")))
    missing = tv("context", "doc", "nope")
    assert missing.exit_code == 1
    assert_one_line_error(missing, "no tool named 'nope'")
    assert tv("context", "doc:-0").exit_code == 2
    assert tv("context").exit_code == 2


def test_reverse_lookup_over_each_store(vault: Vault) -> None:
    from toolvault import lineage

    lib = vault.publish("lib", b"echo lib\n")
    vault.publish("app", b"echo app\n", references=("lib",))
    vault.publish("tool", b"echo tool\n", references=("p42:/commands/nope:3",), allow_dangling=True)
    target, found = lineage.referenced_by(vault, "lib:1")
    assert target.sha256 == lib.sha256
    assert [(r.version.name, r.exact) for r in found] == [("app", True)]
    _, refs = lineage.references(vault, "tool")
    assert [(r.stored, r.status) for r in refs] == [("p42:/commands/nope:3", "dangling")]
