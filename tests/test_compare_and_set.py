"""Compare-and-set publishing (SPEC §11): ``expect_latest`` / ``expect_new`` in the library
and ``add --expect-latest`` / ``--expect-new`` on the command line, over both stores.

A publish that expects a latest which is no longer the latest writes nothing and fails
with ``stale_base``, naming the current latest; a ``--ref`` to an older version of the
same tool warns. HTTP, the remote CLI and the races: tests/test_compare_and_set_http.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import dump
from test_cli import dump as dump_home
from toolvault import Vault
from toolvault.cli import cli
from toolvault.errors import InvalidInput, InvalidSpec, StaleBase
from toolvault.vault import NewVersion

V1, V2, V3 = "echo one\n", "echo two\n", "echo three\n"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def csv(vault: Vault) -> Vault:
    """csvsum:1 and csvsum:2 (the latest)."""
    vault.publish("csvsum", V1)
    vault.publish("csvsum", V2)
    return vault


def stale(vault: Vault, content: str, **fields: Any) -> StaleBase:
    """Publish expecting a base that does not hold: StaleBase, and nothing written."""
    before = dump(vault)
    with pytest.raises(StaleBase) as caught:
        vault.publish("csvsum", content, **fields)
    assert dump(vault) == before
    assert caught.value.code == "stale_base" and caught.value.http_status == 412
    assert caught.value.exit_code == 1
    return caught.value


# -- the library, on both stores ----------------------------------------------------------


def test_a_publish_that_expects_the_latest_builds_on_it(csv: Vault) -> None:
    latest = csv.get("csvsum")
    done = csv.publish("csvsum", V3, expect_latest=latest.ref)
    assert (done.version, done.created, done.warnings) == (3, True, ())
    new = csv.get("csvsum:3")
    assert (new.previous_version, new.previous_sha256) == (2, sha(V2))


@pytest.mark.parametrize(
    "expected", ["csvsum:2", f"csvsum@sha256:{sha(V2)[:8]}", "csvsum:latest", "csvsum"]
)
def test_every_spec_form_of_the_latest_holds(csv: Vault, expected: str) -> None:
    assert csv.publish("csvsum", V3, expect_latest=expected).version == 3


def test_a_stale_base_writes_nothing_and_names_the_current_latest(csv: Vault) -> None:
    base = csv.get("csvsum:1").ref
    err = stale(csv, V3, expect_latest=base)
    current = f"csvsum:2@sha256:{sha(V2)}"
    assert current in str(err)
    assert "toolvault diff csvsum:1 csvsum:2" in str(err)
    assert err.details == {
        "tool": "csvsum",
        "expected": base,
        "expected_ref": base,
        "expect_new": False,
        "current": {"ref": current, "version": 2, "sha256": sha(V2)},
    }
    assert [v.version for v in csv.versions("csvsum")] == [1, 2]


@pytest.mark.parametrize(
    "expected",
    [
        "csvsum:1",
        f"csvsum:2@sha256:{sha(V1)}",  # the latest's number, another content
        f"csvsum@sha256:{sha(V1)[:10]}",
        "csvsum:previous",
        "csvsum:-1",
        "csvsum:9",  # names no version at all
        "csvsum:old",  # a label on version 1
        "csvsum:nolabel",
    ],
)
def test_every_spec_form_of_an_older_or_missing_version_is_stale(csv: Vault, expected: str) -> None:
    csv.label("csvsum:1", "old")
    err = stale(csv, V3, expect_latest=expected)
    assert err.details["current"]["version"] == 2
    assert err.details["expected"] == expected


def test_a_stale_base_with_the_latest_content_is_still_stale(csv: Vault) -> None:
    stale(csv, V2, expect_latest="csvsum:1")


def test_the_latest_content_expected_right_is_unchanged_as_before(csv: Vault) -> None:
    again = csv.publish("csvsum", V2, expect_latest="csvsum:2")
    assert (again.version, again.created) == (2, False)


def test_expecting_a_latest_of_a_tool_that_does_not_exist(vault: Vault) -> None:
    before = dump(vault)
    with pytest.raises(StaleBase) as caught:
        vault.publish("fresh", V1, expect_latest="fresh:1")
    assert dump(vault) == before
    assert caught.value.details["current"] is None
    assert "--expect-new" in str(caught.value)


def test_expect_new_creates_a_tool_once(vault: Vault) -> None:
    assert vault.publish("fresh", V1, expect_new=True).version == 1
    before = dump(vault)
    with pytest.raises(StaleBase) as caught:
        vault.publish("fresh", V2, expect_new=True)
    assert dump(vault) == before
    assert caught.value.details["current"]["ref"] == f"fresh:1@sha256:{sha(V1)}"
    assert caught.value.details["expect_new"] is True
    assert f"fresh:1@sha256:{sha(V1)}" in str(caught.value)


def test_a_yanked_latest_is_not_the_latest(csv: Vault) -> None:
    csv.yank("csvsum:2", "broken")
    stale(csv, V3, expect_latest="csvsum:2")
    done = csv.publish("csvsum", V3, expect_latest="csvsum:1")
    assert done.version == 3  # the chain goes on from the yanked head
    csv.yank("csvsum:1", "also broken")
    err = stale(csv, "echo four\n", expect_latest="csvsum:1")
    assert err.details["current"]["version"] == 3


def test_a_stale_publish_to_a_retired_tool_does_not_reactivate_it(csv: Vault) -> None:
    csv.set_lifecycle("csvsum", "retired")
    stale(csv, V3, expect_latest="csvsum:1")
    assert csv.tool("csvsum").lifecycle == "retired"


def test_publish_many_takes_one_expectation_per_tool_all_or_none(csv: Vault) -> None:
    csv.publish("other", V1)
    before = dump(csv)
    with pytest.raises(StaleBase) as caught:
        csv.publish_many(
            [
                NewVersion("other", V2, expect_latest="other:1"),  # holds
                NewVersion("csvsum", V3, expect_latest="csvsum:1"),  # does not
            ]
        )
    assert caught.value.details["tool"] == "csvsum"
    assert dump(csv) == before
    done = csv.publish_many(
        [
            NewVersion("other", V2, expect_latest="other:1"),
            NewVersion("csvsum", V3, expect_latest="csvsum:2"),
            NewVersion("brand-new", V1, expect_new=True),
        ]
    )
    assert [(r.name, r.version) for r in done] == [("other", 2), ("csvsum", 3), ("brand-new", 1)]


def test_two_items_of_one_tool_in_one_batch_expect_one_after_the_other(csv: Vault) -> None:
    third = f"csvsum:3@sha256:{sha(V3)}"
    done = csv.publish_many(
        [
            NewVersion("csvsum", V3, expect_latest="csvsum:2"),
            NewVersion("csvsum", "echo four\n", expect_latest=third),
        ]
    )
    assert [r.version for r in done] == [3, 4]


@pytest.mark.parametrize(
    ("fields", "error", "says"),
    [
        ({"expect_latest": "other:1"}, InvalidInput, "names tool 'other'"),
        ({"expect_latest": "csvsum:2", "expect_new": True}, InvalidInput, "contradict"),
        ({"expect_latest": "csvsum:"}, InvalidSpec, "csvsum:"),
        ({"expect_latest": "csvsum:versions"}, InvalidSpec, "version listing"),
        ({"expect_latest": "csvsum@sha256:xyz"}, InvalidSpec, "sha256"),
        ({"expect_latest": 2}, InvalidInput, "expect_latest must be a spec"),
        ({"expect_new": "yes"}, InvalidInput, "expect_new must be true or false"),
        ({"expect_new": 1}, InvalidInput, "expect_new must be true or false"),
    ],
)
def test_malformed_expectations_are_invalid_input_and_write_nothing(
    csv: Vault, fields: dict[str, Any], error: type[Exception], says: str
) -> None:
    before = dump(csv)
    with pytest.raises(error) as caught:
        csv.publish("csvsum", V3, **fields)
    assert says in str(caught.value)
    assert dump(csv) == before


def test_a_ref_to_an_older_version_of_the_same_tool_warns(csv: Vault) -> None:
    done = csv.publish("csvsum", V3, references=["csvsum:1"])
    assert done.created and len(done.warnings) == 1
    warning = done.warnings[0]
    assert "older version" in warning and f"csvsum:2@sha256:{sha(V2)}" in warning
    assert "toolvault diff csvsum:1 csvsum:2" in warning


@pytest.mark.parametrize(
    "refs", [["csvsum:2"], ["csvsum:1", "csvsum:2"], ["other:1"], ["csvsum"], []]
)
def test_building_on_the_latest_or_another_tool_does_not_warn(csv: Vault, refs: list[str]) -> None:
    csv.publish("other", V1)
    assert csv.publish("csvsum", V3, references=refs).warnings == ()


def test_a_rollback_or_an_unchanged_publish_does_not_warn(csv: Vault) -> None:
    assert csv.rollback("csvsum", 1).warnings == ()
    assert csv.publish("csvsum", V1, references=["csvsum:1"]).warnings == ()  # unchanged


# -- the command line ---------------------------------------------------------------------


def tv(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def added(*args: str) -> list[dict[str, Any]]:
    result = tv("add", *args, "--json")
    assert result.exit_code == 0, result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """csvsum:1 and csvsum:2 in the default home; the file to publish next."""
    path = tmp_path / "csvsum.sh"
    for text in (V1, V2):
        path.write_text(text)
        added(str(path))
    path.write_text(V3)
    return path


def test_add_expect_latest_publishes_on_the_latest(src: Path) -> None:
    done = added(str(src), "--expect-latest", f"csvsum:2@sha256:{sha(V2)}")
    assert done[0]["version"] == 3 and done[0]["warnings"] == []


def test_add_expect_latest_refuses_a_stale_base(src: Path, home: Path) -> None:
    before = dump_home(home)
    result = tv("add", str(src), "--expect-latest", "csvsum:1")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert "toolvault diff csvsum:1 csvsum:2" in result.stderr
    assert f"csvsum:2@sha256:{sha(V2)}" in result.stderr
    assert "Traceback" not in result.output
    assert dump_home(home) == before


def test_add_expect_new(src: Path, home: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.sh"
    fresh.write_text(V1)
    assert added(str(fresh), "--expect-new")[0]["version"] == 1
    before = dump_home(home)
    result = tv("add", str(src), "--expect-new")
    assert result.exit_code == 1 and "exists already" in result.stderr
    assert dump_home(home) == before


def test_add_with_several_files_takes_one_expectation_per_tool(src: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.sh"
    other.write_text(V1)
    added(str(other))
    other.write_text(V2)
    done = added(str(src), str(other), "--expect-latest", "csvsum:2", "--expect-latest", "other:1")
    assert [(d["name"], d["version"]) for d in done] == [("csvsum", 3), ("other", 2)]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--expect-latest", "csvsum:2", "--expect-new"], "contradict"),
        (["--expect-latest", "other:1"], "names tool 'other'"),
        (["--expect-latest", "csvsum:1", "--expect-latest", "csvsum:2"], "both name 'csvsum'"),
        (["--expect-latest", "csvsum:"], "csvsum:"),
        (["--expect-latest", "csvsum:versions"], "version listing"),
        (["--expect-latest", "../x"], "../x"),
    ],
)
def test_add_with_bad_expectations_is_exit_2(
    src: Path, home: Path, args: list[str], says: str
) -> None:
    before = dump_home(home)
    result = tv("add", str(src), *args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and "Traceback" not in result.output
    assert dump_home(home) == before


def test_add_ref_to_an_older_version_warns_on_stderr_and_in_json(src: Path) -> None:
    result = tv("add", str(src), "--ref", "csvsum:1", "--json")
    assert result.exit_code == 0, result.output
    warning = json.loads(result.stdout)[0]["warnings"][0]
    assert "older version" in warning and f"csvsum:2@sha256:{sha(V2)}" in warning
    assert f"toolvault: warning: {warning}" in result.stderr
    quiet = tv("add", str(src), "--ref", "csvsum:3")
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr
