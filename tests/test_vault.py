"""The service (SPEC §1-§4): publish, read by spec, rollback, refusals, verify, commands/."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import drop_triggers, dump, raw
from toolvault import (
    InvalidInput,
    InvalidSpec,
    NewVersion,
    NotFound,
    Published,
    TooLarge,
    Vault,
    Version,
    fetch_tool,
)
from toolvault.store.postgres import PostgresStore

CONTENTS = [b"#!/bin/sh\necho one\n", b"#!/bin/sh\necho two\n", b"#!/bin/sh\necho three\n"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree(home: Path) -> dict[str, tuple[int, str]]:
    """Every entry under commands/ with its mode and its content or link target."""
    found: dict[str, tuple[int, str]] = {}
    root = home / "commands"
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            found[str(path.relative_to(root))] = (info.st_mode, os.readlink(path))
        elif path.is_file():
            found[str(path.relative_to(root))] = (info.st_mode, sha(path.read_bytes()))
    return found


def numbers(versions: list[Version]) -> list[int]:
    return [v.version for v in versions]


@pytest.fixture
def three(vault: Vault) -> Vault:
    """A vault whose tool 'tool' has versions 1..3 with CONTENTS."""
    for content in CONTENTS:
        vault.publish("tool", content)
    return vault


# -- publishing -------------------------------------------------------------------


def test_publish_update_and_republish(vault: Vault) -> None:
    first = vault.publish("tool", b"echo 1\n")
    second = vault.publish("tool", b"echo 2\n")
    again = vault.publish("tool", b"echo 2\n")

    assert first == Published("tool", 1, sha(b"echo 1\n"), True)
    assert second == Published("tool", 2, sha(b"echo 2\n"), True)
    assert again == Published("tool", 2, sha(b"echo 2\n"), False)
    versions = vault.versions("tool")
    assert numbers(versions) == [1, 2]
    assert (versions[0].previous_version, versions[0].previous_sha256) == (None, None)
    assert (versions[1].previous_version, versions[1].previous_sha256) == (1, first.sha256)
    assert vault.tool("tool").latest_version == 2


@pytest.mark.parametrize(
    ("spec", "number"),
    [
        ("tool", 3),
        ("tool:1", 1),
        ("tool:latest", 3),
        ("tool:previous", 2),
        ("tool:-1", 2),
        ("tool:-2", 1),
        ("/commands/tool:2", 2),
        ("/tools/tool", 3),
        ("p42:/commands/tool:1", 1),
        ("tool@sha256:{sha2}", 2),
        ("tool:2@sha256:{sha2}", 2),
    ],
)
def test_specs_name_the_right_version(three: Vault, spec: str, number: int) -> None:
    spec = spec.format(sha2=sha(CONTENTS[1])[:8])

    found = three.get(spec)
    read = three.cat(spec)

    assert (found.name, found.version, found.sha256) == ("tool", number, sha(CONTENTS[number - 1]))
    assert found.content is None
    assert read.version == number
    assert read.content == CONTENTS[number - 1]
    assert read.text == CONTENTS[number - 1].decode()


def test_full_sha256_and_pinned_reference_resolve(three: Vault) -> None:
    full = sha(CONTENTS[0])
    assert three.get(f"tool@sha256:{full}").version == 1
    assert three.get(three.get("tool:1").ref).version == 1


def test_pinned_reference_with_another_hash_is_not_found(three: Vault) -> None:
    with pytest.raises(NotFound, match="does not match this vault"):
        three.get(f"tool:1@sha256:{sha(CONTENTS[2])}")


def test_versions_selector_is_not_one_version(three: Vault) -> None:
    with pytest.raises(InvalidSpec, match="version listing"):
        three.get("tool:versions")


def test_content_of_an_older_version_is_a_new_version_sharing_its_blob(vault: Vault) -> None:
    vault.publish("tool", b"a\n")
    vault.publish("tool", b"b\n")
    back = vault.publish("tool", b"a\n")

    assert back == Published("tool", 3, sha(b"a\n"), True)
    assert vault.get("tool:3").sha256 == vault.get("tool:1").sha256
    assert vault.get("tool:3").previous_sha256 == sha(b"b\n")
    rows = raw(vault, "SELECT sha256, count(*) FROM blobs GROUP BY sha256")
    assert sorted(rows) == sorted([(sha(b"a\n"), 1), (sha(b"b\n"), 1)])


def test_same_content_for_two_tools_shares_one_blob(vault: Vault) -> None:
    vault.publish("one", b"same\n")
    vault.publish("two", b"same\n")
    assert raw(vault, "SELECT count(*) FROM blobs") == [(1,)]
    assert vault.cat("two").content == b"same\n"


def test_provenance_fields_are_kept(home: Path) -> None:
    home.mkdir()
    (home / "config.toml").write_text('owner = "alice"\n')
    with Vault.open(home) as vault:
        vault.publish("lib", b"lib\n")
        vault.publish(
            "app",
            b"app\n",
            origin="https://example.com/app",
            created_by="agent-7",
            created_at="2024-01-02T03:04:05Z",
            session_id="s-1",
            prompt="write an app",
            message="first cut",
            references=("lib",),
            transforms=("strip",),
        )
        app = vault.get("app")
        lib = vault.get("lib")
        tool = vault.tool("app")

    assert app.owner == "alice" and tool.owner == "alice"
    assert lib.created_by == "alice"
    assert (app.origin, app.created_by, app.created_at) == (
        "https://example.com/app",
        "agent-7",
        "2024-01-02T03:04:05.000000Z",  # normalised to the stored format
    )
    assert app.recorded_at != app.created_at
    assert (app.session_id, app.prompt, app.message) == ("s-1", "write an app", "first cut")
    assert app.references == ("lib:1@sha256:" + sha(b"lib\n"),)
    assert app.transforms == ("strip",)
    assert app.to_dict()["references"] == [lib.ref]


def test_unresolvable_reference_writes_nothing(three: Vault) -> None:
    before = dump(three)
    with pytest.raises(NotFound, match="reference 'lib' does not resolve"):
        three.publish("tool", b"new\n", references=("lib",))
    assert dump(three) == before


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["a\n", "b\n", "#!/bin/sh\n", "", "é\n", "c"]), max_size=8))
def test_publish_then_read_back(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp, Vault.open(tmp) as vault:
        expected: list[str] = []
        for text in texts:
            result = vault.publish("t", text.encode())
            assert result.created == (not expected or expected[-1] != text)
            if result.created:
                expected.append(text)
            assert result.version == len(expected)
        if expected:
            assert [vault.cat(f"t:{n}").text for n in range(1, len(expected) + 1)] == expected
            assert vault.cat("t").text == expected[-1]
            assert vault.verify().ok


# -- rollback ---------------------------------------------------------------------


def test_rollback_publishes_old_content_as_a_new_version(three: Vault) -> None:
    result = three.rollback("tool", 1, message="back to one")

    assert result == Published("tool", 4, sha(CONTENTS[0]), True)
    four = three.cat("tool")
    assert four.content == CONTENTS[0]
    assert four.rollback_of == 1
    assert four.message == "back to one"
    assert four.executable is True
    assert (four.previous_version, four.previous_sha256) == (3, sha(CONTENTS[2]))
    assert four.references == (three.get("tool:1").ref,)
    previous = three.cat("tool:previous")
    assert previous.version == 3 and previous.content == CONTENTS[2]
    assert numbers(three.versions("tool")) == [1, 2, 3, 4]
    assert os.readlink(three.home / "commands" / "tool") == ".history/tool/4"


def test_rollback_to_a_missing_version_is_not_found(three: Vault) -> None:
    before = dump(three)
    with pytest.raises(NotFound, match=r"tool 'tool' has versions 1\.\.3; there is no version 9"):
        three.rollback("tool", 9)
    assert dump(three) == before


# -- many versions -----------------------------------------------------------------


def test_twelve_hundred_versions_of_one_tool(vault: Vault) -> None:
    for batch in range(12):
        items = [NewVersion("big", f"echo {batch * 100 + i}\n".encode()) for i in range(100)]
        results = vault.publish_many(items)
        assert [r.version for r in results] == list(range(batch * 100 + 1, batch * 100 + 101))

    assert vault.cat("big:1").content == b"echo 0\n"
    assert vault.cat("big:1200").content == b"echo 1199\n"
    assert vault.cat("big").version == 1200
    assert vault.get("big:-1199").version == 1
    assert numbers(vault.versions("big")) == list(range(1, 1201))
    assert vault.tool("big").versions == 1200
    assert len(os.listdir(vault.home / "commands" / ".history" / "big")) == 1201
    with pytest.raises(NotFound, match=r"versions 1\.\.1200; there is no version 1201"):
        vault.get("big:1201")


def test_hundreds_of_single_publishes(vault: Vault) -> None:
    for i in range(300):
        assert vault.publish("single", f"echo {i}\n".encode()).version == i + 1

    assert numbers(vault.versions("single")) == list(range(1, 301))
    assert vault.cat("single:-299").content == b"echo 0\n"
    assert os.readlink(vault.home / "commands" / "single") == ".history/single/300"
    assert vault.verify().ok


def test_a_batch_is_all_or_nothing(three: Vault) -> None:
    before = dump(three)
    with pytest.raises(InvalidInput):
        three.publish_many([NewVersion("tool", b"fine\n"), NewVersion("other", b"\0")])
    assert dump(three) == before
    assert three.publish_many([]) == []


# -- not found ------------------------------------------------------------------


def test_missing_version_message_lists_what_exists(vault: Vault) -> None:
    for content in (b"1\n", b"2\n", b"3\n"):
        vault.publish("fmt", content)
    with pytest.raises(NotFound) as info:
        vault.get("fmt:7")
    assert str(info.value) == "tool 'fmt' has versions 1..3; there is no version 7"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fmt:-3", r"has versions 1\.\.3; there is no version 3 before the latest"),
        ("fmt@sha256:00000000", "none has a sha256 starting with 00000000"),
        ("fmt:stable", "no label 'stable'"),
        ("fmt:99999999999999999999", r"versions 1\.\.3; there is no version 99999999999999999999"),
        ("fmt:-99999999999999999999", r"has versions 1\.\.3"),
    ],
)
def test_well_formed_specs_matching_nothing_are_not_found(
    vault: Vault, spec: str, message: str
) -> None:
    for content in (b"1\n", b"2\n", b"3\n"):
        vault.publish("fmt", content)
    with pytest.raises(NotFound, match=message):
        vault.get(spec)


def test_single_version_message(vault: Vault) -> None:
    vault.publish("fmt", b"1\n")
    with pytest.raises(NotFound, match="tool 'fmt' has only version 1; there is no version 2"):
        vault.get("fmt:2")


def test_unknown_tool_is_not_found_with_a_suggestion(three: Vault) -> None:
    with pytest.raises(NotFound, match="no tool named 'nope'; 'toolvault ls' lists tools"):
        three.get("nope")
    with pytest.raises(NotFound, match="no tool named 'tol'; did you mean tool"):
        three.cat("tol:1")
    with pytest.raises(NotFound, match="no tool named 'nope'"):
        three.versions("nope")
    with pytest.raises(NotFound, match="no tool named 'nope'"):
        three.tool("nope")


def test_ambiguous_hash_prefix_asks_for_more_digits(vault: Vault) -> None:
    seen: dict[str, bytes] = {}
    i = 0
    while True:  # finite: a 32-bit prefix collides after ~80k contents
        content = f"echo {i}\n".encode()
        prefix = sha(content)[:8]
        if prefix in seen:
            break
        seen[prefix] = content
        i += 1
    vault.publish("tool", seen[prefix])
    vault.publish("tool", content)
    with pytest.raises(InvalidSpec, match=r"ambiguous.*give more hex digits"):
        vault.get(f"tool@sha256:{prefix}")
    assert vault.get(f"tool@sha256:{sha(content)[:12]}").version == 2


# -- refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("tool", b"#!/bin/sh\n\0\x01", InvalidInput, "NUL byte at offset 10"),
        ("tool", b"echo \xff\xfe\n", InvalidInput, "not UTF-8 text: invalid byte at offset 5"),
        ("tool", b"x" * 65, TooLarge, "tool is 65 bytes; the limit is 64"),
        ("../x", b"ok\n", InvalidSpec, "invalid tool name '../x'"),
        ("a/b", b"ok\n", InvalidSpec, "invalid tool name 'a/b'"),
        ("-rf", b"ok\n", InvalidSpec, "invalid tool name '-rf'"),
        ("", b"ok\n", InvalidSpec, "empty tool name"),
        ("a" * 129, b"ok\n", InvalidSpec, "129 characters"),
        ("x:y", b"ok\n", InvalidSpec, "invalid tool name 'x:y'"),
    ],
)
def test_refused_input_writes_nothing(
    home: Path, name: str, content: bytes, error: type[Exception], message: str
) -> None:
    home.mkdir()
    (home / "config.toml").write_text("max_tool_size = 64\n")
    with Vault.open(home) as vault:
        vault.publish("tool", b"#!/bin/sh\necho ok\n")
        before, files = dump(vault), tree(home)

        with pytest.raises(error, match=message) as info:
            vault.publish(name, content)

        assert type(info.value) is error
        assert dump(vault) == before
        assert tree(home) == files
        assert numbers(vault.versions("tool")) == [1]


def test_size_limit_is_inclusive(home: Path) -> None:
    home.mkdir()
    (home / "config.toml").write_text("max_tool_size = 64\n")
    with Vault.open(home) as vault:
        assert vault.publish("tool", b"x" * 64).created


def test_default_size_limit_is_one_mebibyte(vault: Vault) -> None:
    assert vault.publish("big", b"x" * (1024 * 1024)).created
    with pytest.raises(TooLarge, match="1,048,577 bytes; the limit is 1,048,576"):
        vault.publish("big", b"y" * (1024 * 1024 + 1))


# -- executable -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "flag", "executable"),
    [
        (b"#!/bin/sh\necho hi\n", None, True),
        (b"echo hi\n", None, False),
        (b"echo hi\n", True, True),
        (b"# !/bin/sh\n", False, False),
    ],
)
def test_executable_from_shebang_or_flag(
    vault: Vault, content: bytes, flag: bool | None, executable: bool
) -> None:
    vault.publish("tool", content, executable=flag)
    assert vault.get("tool").executable is executable
    mode = stat.S_IMODE((vault.home / "commands" / ".history" / "tool" / "1").stat().st_mode)
    assert mode == (0o755 if executable else 0o644)


# -- fetch_tool -------------------------------------------------------------------


def test_fetch_tool_with_a_vault(three: Vault) -> None:
    assert fetch_tool(three, "tool").content == CONTENTS[2]
    assert fetch_tool(three, "tool", 1).content == CONTENTS[0]
    assert fetch_tool(three, "tool", version=2).version == 2
    assert fetch_tool(three, "tool:previous").version == 2


@pytest.fixture
def three_home(three: Vault, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The home of ``three``; when its database is PostgreSQL, TOOLVAULT_DB names it,
    as it would for a user of a shared vault."""
    if isinstance(three.store, PostgresStore):
        monkeypatch.setenv("TOOLVAULT_DB", three.store.url)
    return three.home


def test_fetch_tool_with_a_home_path(three: Vault, three_home: Path) -> None:
    assert fetch_tool(three_home, "tool").text == CONTENTS[2].decode()
    assert fetch_tool(str(three_home), "tool", 1).content == CONTENTS[0]


@pytest.mark.parametrize("use_path", [False, True])
def test_fetch_tool_not_found(three: Vault, three_home: Path, use_path: bool) -> None:
    conn: Vault | Path = three_home if use_path else three
    with pytest.raises(NotFound, match="no tool named 'nope'"):
        fetch_tool(conn, "nope")
    with pytest.raises(NotFound, match=r"has versions 1\.\.3; there is no version 4"):
        fetch_tool(conn, "tool", 4)
    with pytest.raises(InvalidSpec, match="version must be a whole number"):
        fetch_tool(conn, "tool", 0)


def test_fetch_tool_from_a_missing_home_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(NotFound, match="no vault at"):
        fetch_tool(missing, "tool")
    assert not missing.exists()


# -- diff ---------------------------------------------------------------------------


def test_diff_between_two_versions(vault: Vault) -> None:
    vault.publish("tool", b"a\nb\nc\n")
    vault.publish("tool", b"a\nB\nc\nd")

    diff = vault.diff("tool:1", "tool:2")

    assert "".join(diff.lines) == (
        "--- tool:1\n+++ tool:2\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
        "\\ No newline at end of file\n"
    )
    assert (diff.added, diff.removed) == (2, 1)
    assert (diff.old.version, diff.new.version) == (1, 2)
    assert vault.diff("tool").lines == diff.lines
    assert vault.diff("tool:2", "tool:1").lines[2:5] == ("@@ -1,4 +1,3 @@\n", " a\n", "-B\n")


def test_diff_of_a_first_version_is_against_nothing(vault: Vault) -> None:
    vault.publish("tool", b"a\nb\n")
    diff = vault.diff("tool:1")
    assert diff.lines[:2] == ("--- /dev/null\n", "+++ tool:1\n")
    assert (diff.added, diff.removed) == (2, 0)
    assert diff.old is None  # no invented version 0
    shape = diff.to_dict()
    assert (shape["old"], shape["old_version"]) == (None, None)
    assert shape["new"] == vault.get("tool:1").ref


def test_diff_across_tools_and_identical(vault: Vault) -> None:
    vault.publish("one", b"x\n")
    vault.publish("two", b"y\n")
    assert vault.diff("one", "two").lines[:2] == ("--- one:1\n", "+++ two:1\n")
    assert vault.diff("one", "one:1").lines == ()


# -- verify and the commands/ tree ------------------------------------------------


def test_verify_clean_vault(three: Vault) -> None:
    three.publish("other", b"plain\n")
    report = three.verify()
    assert report.ok
    assert report.problems == ()
    counts = {k: report.checked[k] for k in ("tools", "versions", "blobs", "files")}
    assert counts == {"tools": 2, "versions": 4, "blobs": 4, "files": 6}
    assert three.verify(["tool"]).checked["versions"] == 3
    assert three.sync() == []


def test_verify_of_an_unknown_tool_is_not_found(three: Vault) -> None:
    with pytest.raises(NotFound, match="no tool named 'nope'"):
        three.verify(["nope"])


def test_commands_tree_layout(three: Vault) -> None:
    three.publish("plain", b"not executable\n")
    root = three.home / "commands"
    history = root / ".history" / "tool"

    assert sorted(os.listdir(history)) == ["1", "2", "3", "metadata.json"]
    for number, content in enumerate(CONTENTS, start=1):
        assert (history / str(number)).read_bytes() == content
        assert stat.S_IMODE((history / str(number)).stat().st_mode) == 0o755
    assert stat.S_IMODE((root / ".history" / "plain" / "1").stat().st_mode) == 0o644
    assert os.readlink(root / "tool") == ".history/tool/3"
    assert not os.path.isabs(os.readlink(root / "plain"))
    assert (root / "tool").read_bytes() == CONTENTS[2]

    meta = json.loads((history / "metadata.json").read_text())
    assert (meta["tool"], meta["latest"], meta["lifecycle"]) == ("tool", 3, "active")
    assert [(v["version"], v["hash"]) for v in meta["versions"]] == [
        (n, sha(c)) for n, c in enumerate(CONTENTS, start=1)
    ]
    assert meta["versions"][1]["previous_hash"] == sha(CONTENTS[0])
    assert sorted(os.listdir(root)) == [".history", "plain", "tool"]


def test_a_tool_runs_by_name_from_commands(three: Vault) -> None:
    env = {**os.environ, "PATH": f"{three.home / 'commands'}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["tool"], env=env, capture_output=True, text=True, check=True)
    assert done.stdout == "three\n"


def test_verify_reports_drift_and_sync_repairs_it(three: Vault) -> None:
    root = three.home / "commands"
    history = root / ".history" / "tool"
    (history / "1").write_text("#!/bin/sh\necho tampered\n")
    os.chmod(history / "2", 0o600)
    (root / "tool").unlink()
    (history / "notes.txt").write_text("stray\n")
    (root / "junk").write_text("stray\n")
    (root / ".history" / "gone").mkdir()

    report = three.verify()

    assert not report.ok
    places = sorted(((p.kind, p.name, p.version) for p in report.problems), key=repr)
    assert places == sorted(
        [
            ("altered", "tool", 1),
            ("mode", "tool", 2),
            ("symlink", "tool", 3),
            ("stray", "tool", None),
            ("stray", None, None),
            ("stray", None, None),
        ],
        key=repr,
    )
    details = " ".join(p.detail for p in report.problems)
    assert "notes.txt" in details and "junk" in details and "gone" in details
    assert report.to_dict()["ok"] is False

    fixed = three.sync()

    assert len(fixed) == 6
    assert three.verify().ok
    assert (history / "1").read_bytes() == CONTENTS[0]
    assert stat.S_IMODE((history / "2").stat().st_mode) == 0o755
    assert os.readlink(root / "tool") == ".history/tool/3"
    assert not (history / "notes.txt").exists()
    assert not (root / "junk").exists()
    assert not (root / ".history" / "gone").exists()


def test_sync_rebuilds_a_deleted_tree(three: Vault) -> None:
    import shutil

    before = tree(three.home)
    shutil.rmtree(three.home / "commands")
    assert not three.verify().ok
    three.sync()
    assert tree(three.home) == before
    assert three.verify().ok


def test_verify_finds_a_tampered_blob(three: Vault) -> None:
    drop_triggers(three, "blobs")
    raw(three, "UPDATE blobs SET content = ? WHERE sha256 = ?", (b"evil", sha(CONTENTS[1])))
    problems = [p for p in three.verify().problems if p.kind == "blob"]
    assert [(p.name, p.version) for p in problems] == [(None, None)]
    assert sha(CONTENTS[1]) in problems[0].detail and sha(b"evil") in problems[0].detail


def test_verify_finds_a_broken_chain(three: Vault) -> None:
    drop_triggers(three, "versions")
    raw(three, "UPDATE versions SET previous_sha256 = ? WHERE version = 2", ("0" * 64,))
    raw(three, "UPDATE versions SET size = 1 WHERE version = 3")
    places = {(p.kind, p.name, p.version) for p in three.verify().problems}
    # metadata.json is derived from the rows, so it no longer matches them either.
    assert places >= {("chain", "tool", 2), ("metadata", "tool", None), ("size", "tool", 3)}
    assert ("chain", "tool", 3) not in places


def test_verify_finds_a_removed_version(three: Vault) -> None:
    drop_triggers(three, "versions")
    raw(three, "DELETE FROM versions WHERE version = 2")
    three.sync()
    problems = three.verify().problems
    assert ("chain", "tool", 3) in {(p.kind, p.name, p.version) for p in problems}
    assert "expected version 2" in " ".join(p.detail for p in problems)


def test_verify_finds_a_swapped_content(three: Vault) -> None:
    drop_triggers(three, "versions")
    raw(three, "UPDATE versions SET sha256 = ? WHERE version = 2", (sha(CONTENTS[0]),))
    places = {(p.kind, p.name, p.version) for p in three.verify().problems}
    assert ("chain", "tool", 3) in places
    assert ("altered", "tool", 2) in places


def test_the_version_listing_is_the_json_shape_of_every_version(vault: Vault) -> None:
    vault.publish("tool", b"#!/bin/sh\necho 1\n", prompt="p", transforms=["t"])
    vault.publish("tool", b"echo 2\n", references=["tool:1"])
    vault.yank("tool:1", "broken quoting")
    listing = vault.version_listing("tool")
    found = vault.versions("tool")
    shapes = [{**v.to_dict(), "ref": v.ref} for v in found]
    assert listing == [{**shapes[0], "yanked": "broken quoting"}, {**shapes[1], "yanked": None}]
    assert listing[0]["executable"] is True and listing[1]["references"][0].startswith("tool:1@")
    vault.publish("other", b"echo other\n")
    every = vault.all_version_listing()
    assert [(v["name"], v["version"], v["yanked"]) for v in every] == [
        ("other", 1, None),
        ("tool", 1, "broken quoting"),
        ("tool", 2, None),
    ]
    with pytest.raises(NotFound):
        vault.version_listing("nope")


def test_sync_removes_only_strays_inside_the_tree_whatever_the_home_is_called(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "a"
    (outside / "keep").mkdir(parents=True)
    home = tmp_path / "a is not b" / "h"
    home.parent.mkdir()  # Vault.open makes the home, never its parents
    with Vault.open(home) as vault:
        vault.publish("tool", b"echo 1\n")
        (home / "commands" / "junk").write_text("x")
        assert vault.sync() == [f"removed {home / 'commands' / 'junk'} (is not a known tool)"]
        assert vault.verify().ok
    assert (outside / "keep").is_dir()


def test_a_batch_publishes_as_one_publish_after_another_would(vault: Vault) -> None:
    vault.publish("old", b"1\n")
    vault.set_lifecycle("old", "retired")
    vault.publish_many([NewVersion("y", b"1\n"), NewVersion("y", b"2\n")])
    vault.yank("y:2", "broken")
    results = vault.publish_many(
        [
            NewVersion("a", b"1\n"),
            NewVersion("a", b"1\n"),  # equal to the latest: unchanged
            NewVersion("a", b"2\n"),
            NewVersion("old", b"1\n"),  # unchanged, but publishing reactivates
            NewVersion("a", b"1\n"),  # equal to an older version: a new one
            NewVersion("y", b"1\n"),  # equal to the latest that is not yanked
            NewVersion("y", b"3\n"),  # goes on from the yanked head
        ]
    )
    assert [(r.name, r.version, r.created) for r in results] == [
        ("a", 1, True),
        ("a", 1, False),
        ("a", 2, True),
        ("old", 1, False),
        ("a", 3, True),
        ("y", 1, False),
        ("y", 3, True),
    ]
    a3, y3 = vault.get("a:3"), vault.get("y:3")
    assert (a3.previous_version, a3.previous_sha256) == (2, sha(b"2\n"))
    assert (y3.previous_version, y3.previous_sha256) == (2, sha(b"2\n"))
    assert vault.tool("old").lifecycle == "active"
    assert [(e.action, e.tool, e.version) for e in vault.audit()][-5:] == [
        ("publish", "a", 1),
        ("publish", "a", 2),
        ("reactivate", "old", None),
        ("publish", "a", 3),
        ("publish", "y", 3),
    ]
    assert os.readlink(vault.home / "commands" / "a") == ".history/a/3"
    assert os.readlink(vault.home / "commands" / "old") == ".history/old/1"
    assert vault.verify().ok
