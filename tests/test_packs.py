"""Tool packs end to end through the CLI: backup/restore fidelity, append mode and
anti-downgrade, trust (signatures, expiry, tampering), and malicious archives."""

from __future__ import annotations

import hashlib
import json
import random
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from test_archive import MiB, file, info, tar_gz, zeros_tar_gz
from test_cli import assert_one_line_error, dump, js, ok, tv, write

V = ["#!/bin/sh\necho one\n", "#!/bin/sh\necho two\n", "#!/bin/sh\necho three\n"]
STATE_TABLES = ("tools", "versions", "blobs", "labels", "yanks")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def at(home: Path, *args: str) -> list[str]:
    """``toolvault --home HOME ARGS``."""
    return ["--home", str(home), *args]


def publish(tmp_path: Path, name: str, text: str, *args: str, home: Path | None = None) -> None:
    src = write(tmp_path / f"{name}.src", text)
    ok(*(at(home) if home else []), "add", str(src), "--name", name, *args)


def snapshot(home: Path) -> dict[str, str]:
    """Every file and link under ``home`` by relative path: its sha256 or link target."""
    found = {}
    for path in sorted(home.rglob("*")):
        rel = str(path.relative_to(home))
        if path.is_symlink():
            found[rel] = "-> " + str(path.readlink())
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def rows(home: Path, tables: tuple[str, ...] = STATE_TABLES) -> list[tuple[object, ...]]:
    return [row for row in dump(home) if row[0] in tables]


def pack_members(path: Path) -> dict[str, tuple[bytes, int]]:
    """The files of a pack: path -> (bytes, mode)."""
    with tarfile.open(path) as tar:
        found = {}
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            assert handle is not None
            found[member.name] = (handle.read(), member.mode)
    return found


def rebuild(path: Path, out: Path, changes: dict[str, bytes]) -> Path:
    """A copy of the pack ``path`` with some members' bytes replaced, modes kept."""
    members = pack_members(path)
    for name, data in changes.items():
        assert name in members, name
        members[name] = (data, members[name][1])
    out.write_bytes(tar_gz(*(file(n, d, m) for n, (d, m) in members.items())))
    return out


def manifest(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(pack_members(path)["toolpack.json"][0])
    return doc


def refused(result: Result, code: int, words: str) -> None:
    assert result.exit_code == code, (result.output, result.exception)
    assert_one_line_error(result, words)


# -- fidelity: export --all, import into an empty vault -----------------------------------


@pytest.fixture
def source(tmp_path: Path, home: Path) -> str:
    """A vault with signed versions, a rollback, provenance, labels, a yank, a deprecated
    and a retired tool and an ownership transfer; returns the signing key's public half."""
    public = ok("keys", "generate", "laptop").stdout.strip()
    (home / "config.toml").write_text('owner = "alice"\n')
    publish(
        tmp_path,
        "fmt",
        V[0],
        "--sign",
        "laptop",
        "-m",
        "first",
        "--prompt",
        "write a formatter",
        "--session",
        "sess-1",
        "--created-by",
        "@ai-engineer",
        "--transform",
        "python",
        "--transform",
        "black",
        "--origin",
        "https://example.test/fmt.sh",
    )
    publish(tmp_path, "fmt", V[1], "--sign", "laptop", "--ref", "fmt:1", "--owner", "nobody")
    ok("rollback", "fmt", "1")
    publish(tmp_path, "lint", "print('lint 1')\n", "--owner", "carol")
    publish(tmp_path, "lint", "print('lint 2')\n", "--prompt", "stricter")
    publish(tmp_path, "lint", "print('lint 3')\n", "--ref", "fmt:2")
    ok("label", "fmt:2", "stable")
    ok("label", "lint:1", "old")
    ok("yank", "lint:2", "--reason", "crashes on empty input")
    ok("deprecate", "lint", "-m", "use fmt --check")
    publish(tmp_path, "old", "echo old\n")
    ok("retire", "old", "-m", "nobody uses it")
    ok("owner", "fmt", "bob")
    return public


def test_export_all_then_import_into_an_empty_vault_is_identical(
    tmp_path: Path, home: Path, source: str
) -> None:
    pack = tmp_path / "backup.tar.gz"
    wrote = js("pack", "export", "--all", "-o", str(pack), "--pack-name", "backup")
    assert wrote["pack"] == "backup" and wrote["pack_version"] == 1
    assert wrote["bytes"] == pack.stat().st_size and wrote["signed"] is False
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "laptop", source))
    result = ok(*at(target, "ingest", str(pack)))
    assert "imported from pack backup@1: 3 tool(s), 7 version(s) added, 0 unchanged, 0 skipped" in (
        result.stdout
    )
    assert "warning: pack backup@1 from file://" in result.stderr  # exported unsigned

    assert js(*at(target, "verify"))["ok"] is True
    every = js("ls", "--all")
    assert len(every) == 7
    assert js(*at(target, "ls", "--all")) == every
    for v in every:
        spec = f"{v['name']}:{v['version']}"
        shown = js("show", spec)
        assert js(*at(target, "show", spec)) == shown, spec
        assert ok(*at(target, "cat", spec)).stdout == ok("cat", spec).stdout
    assert js(*at(target, "ls")) == js("ls")
    assert rows(target) == rows(home)  # tools, versions, blobs, labels, yanks: every column

    # what came across is the real thing: signatures, provenance, rollback, labels
    first = js(*at(target, "show", "fmt:1"))
    assert (
        first["signature"] and first["key_id"] and first["signature_status"] == "valid (key laptop)"
    )
    assert (first["prompt"], first["session_id"], first["created_by"]) == (
        "write a formatter",
        "sess-1",
        "@ai-engineer",
    )
    assert (first["transforms"], first["origin"]) == (
        ["python", "black"],
        "https://example.test/fmt.sh",
    )
    assert js(*at(target, "show", "fmt:2"))["references"] == [f"fmt:1@sha256:{sha(V[0])}"]
    assert js(*at(target, "show", "fmt:3"))["rollback_of"] == 1
    assert js(*at(target, "show", "fmt:2"))["labels"] == ["stable"]
    assert ok(*at(target, "cat", "fmt:stable")).stdout == V[1]
    assert js(*at(target, "show", "lint:2"))["yanked"] == "crashes on empty input"
    assert ok(*at(target, "cat", "lint")).stdout == "print('lint 3')\n"
    tools = {t["name"]: t for t in js(*at(target, "ls"))}
    assert (tools["fmt"]["owner"], tools["fmt"]["lifecycle"]) == ("bob", "active")
    assert (tools["lint"]["owner"], tools["lint"]["lifecycle"]) == ("carol", "deprecated")
    assert tools["old"]["lifecycle"] == "retired"
    assert snapshot(target / "commands") == snapshot(home / "commands")
    assert not (target / "commands" / "old").exists()

    entries = js(*at(target, "audit"))
    assert [e["action"] for e in entries] == ["trust-add", "import"]
    details = entries[1]["details"]
    assert details["pack"] == "backup" and details["pack_version"] == 1
    assert [(a["name"], a["version"]) for a in details["added"]] == [
        (v["name"], v["version"]) for v in every
    ]
    assert details["signed_by"] is None


def test_a_signed_export_imports_without_a_warning(tmp_path: Path, home: Path, source: str) -> None:
    pack = tmp_path / "signed.tar.gz"
    wrote = ok("pack", "export", "--all", "-o", str(pack), "--sign", "laptop")
    assert "pack toolvault-export@1" in wrote.stdout and wrote.stdout.rstrip().endswith("signed")
    assert "toolpack.json.sig" in pack_members(pack)
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "laptop", source))
    result = ok(*at(target, "ingest", str(pack), "--json"))
    assert "warning" not in result.stderr
    summary = json.loads(result.stdout)
    assert summary["warnings"] == [] and len(summary["added"]) == 7
    key_id = js("keys", "list")[0]["key_id"]
    assert js(*at(target, "audit"))[-1]["details"]["signed_by"] == key_id
    assert js(*at(target, "verify"))["ok"] is True


# -- append mode and pack versions ---------------------------------------------------------


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """Source vault (HOME) with fmt:1, fmt:2; pack team@1 of every fmt version."""
    publish(tmp_path, "fmt", V[0], "--prompt", "make fmt", "--created-by", "@agent")
    publish(tmp_path, "fmt", V[1], "--prompt", "make it say two", "--created-by", "@agent")
    pack = tmp_path / "team-1.tar.gz"
    ok("pack", "export", "fmt", "-o", str(pack), "--pack-name", "team")
    return pack


def test_a_vault_that_has_the_tool_gets_new_versions_appended(tmp_path: Path, team: Path) -> None:
    target = tmp_path / "target"
    publish(tmp_path, "fmt", "#!/bin/sh\necho zero\n", home=target)
    publish(tmp_path, "fmt", V[0], home=target)  # equal to the pack's fmt:1
    result = ok(*at(target, "ingest", str(team)))
    assert result.stdout.splitlines() == [
        f"fmt:3  added  sha256:{sha(V[1])[:12]}",
        "fmt:2  unchanged",
        "imported from pack team@1: 1 tool(s), 1 version(s) added, 1 unchanged, 0 skipped",
    ]
    appended = js(*at(target, "show", "fmt:3"))
    original = js("show", "fmt:2")
    assert appended["origin"] == "pack:team@1#2"
    assert ok(*at(target, "cat", "fmt")).stdout == V[1]
    assert (appended["previous_version"], appended["previous_sha256"]) == (2, sha(V[0]))
    for key in ("sha256", "size", "executable", "created_at", "created_by", "prompt"):
        assert appended[key] == original[key], key
    assert appended["recorded_at"] != original["recorded_at"]
    assert js(*at(target, "verify"))["ok"] is True
    entry = js(*at(target, "audit"))[-1]
    assert entry["action"] == "import"
    assert [(a["name"], a["version"]) for a in entry["details"]["added"]] == [("fmt", 3)]

    before, audit = dump(target), len(js(*at(target, "audit")))
    again = ok(*at(target, "ingest", str(team)))
    assert "fmt:1  unchanged" in again.stdout and "fmt:2  unchanged" in again.stdout
    assert "0 version(s) added, 2 unchanged" in again.stdout
    assert dump(target) == before and len(js(*at(target, "audit"))) == audit


def test_one_version_by_spec_and_appended_when_not_a_whole_history(
    tmp_path: Path, team: Path
) -> None:
    one = tmp_path / "one.tar.gz"
    ok("label", "fmt:2", "stable")
    ok("pack", "export", "fmt:stable", "-o", str(one), "--pack-name", "single")
    doc = manifest(one)
    assert [(t["name"], t["version"]) for t in doc["tools"]] == [("fmt", 2)]
    assert doc["labels"][0]["label"] == "stable"
    assert sorted(pack_members(one)) == ["toolpack.json", "tools/fmt/2"]
    target = tmp_path / "target"
    ok(*at(target, "ingest", str(one)))
    (only,) = js(*at(target, "ls", "--all"))
    assert (only["version"], only["origin"], only["previous_version"]) == (
        1,
        "pack:single@1#2",
        None,
    )
    assert ok(*at(target, "cat", "fmt")).stdout == V[1]


def test_pack_versions_only_go_up_on_export(tmp_path: Path, team: Path, home: Path) -> None:
    out = tmp_path / "p.tar.gz"

    def export(*args: str) -> Result:
        return tv("pack", "export", "fmt", "-o", str(out), "--pack-name", "team", *args)

    def number(*args: str) -> int:
        result = export(*args, "--json")
        assert result.exit_code == 0, result.output
        return int(json.loads(result.stdout)["pack_version"])

    assert number() == 2
    assert number("--pack-version", "5") == 5
    written, before = out.read_bytes(), dump(home)
    for again in ("5", "3"):
        refused(
            export("--pack-version", again),
            1,
            "pack 'team' was exported as version 5 already; give --pack-version above 5",
        )
    # refused exports take up no pack version
    refused(export("--expires", "soon"), 2, "--expires takes an ISO date such as 2027-01-31")
    missing = tmp_path / "no" / "p.tar.gz"
    refused(
        tv("pack", "export", "fmt", "-o", str(missing), "--pack-name", "team"),
        2,
        f"cannot write {missing}: there is no folder",
    )
    refused(export("nope"), 1, "no tool named 'nope'")
    assert out.read_bytes() == written and dump(home) == before
    assert number() == 6
    assert js("pack", "export", "fmt", "-o", str(out), "--pack-name", "other")["pack_version"] == 1
    refused(tv("pack", "export", "fmt", "--all", "-o", str(out)), 2, "not both")


def test_a_lower_pack_version_or_the_same_with_other_content_is_refused(
    tmp_path: Path, team: Path
) -> None:
    publish(tmp_path, "fmt", V[2])
    second = tmp_path / "team-2.tar.gz"
    ok("pack", "export", "fmt", "-o", str(second), "--pack-name", "team")
    assert manifest(second)["version"] == 2
    target = tmp_path / "target"
    ok(*at(target, "ingest", str(second)))
    before = dump(target)
    downgrade = tv(*at(target, "ingest", str(team)))
    refused(downgrade, 1, "pack team version 1 is not newer than version 2, imported already")
    assert "downgrade refused" in downgrade.stderr
    # another vault's "team@2": same name and version, different manifest
    elsewhere = tmp_path / "elsewhere"
    publish(tmp_path, "fmt", "#!/bin/sh\necho forged\n", home=elsewhere)
    forged = tmp_path / "forged.tar.gz"
    ok(
        *at(
            elsewhere,
            "pack",
            "export",
            "fmt",
            "-o",
            str(forged),
            "--pack-name",
            "team",
            "--pack-version",
            "2",
        )
    )
    refused(tv(*at(target, "ingest", str(forged))), 1, "is not newer than version 2")
    assert dump(target) == before
    assert ok(*at(target, "cat", "fmt")).stdout == V[2]


# -- trust ---------------------------------------------------------------------------------


@pytest.fixture
def signed(tmp_path: Path, home: Path) -> tuple[Path, str]:
    """fmt:1, fmt:2 in HOME and a pack of them signed by 'laptop'; (pack, public key)."""
    public = ok("keys", "generate", "laptop").stdout.strip()
    publish(tmp_path, "fmt", V[0])
    publish(tmp_path, "fmt", V[1])
    pack = tmp_path / "signed.tar.gz"
    ok("pack", "export", "fmt", "-o", str(pack), "--pack-name", "team", "--sign", "laptop")
    return pack, public


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """An initialized, empty second vault."""
    home = tmp_path / "target"
    ok(*at(home, "init"))
    return home


def test_an_unsigned_pack_imports_with_one_warning_line(
    tmp_path: Path, team: Path, target: Path
) -> None:
    result = ok(*at(target, "ingest", str(team)))
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"toolvault: warning: pack team@1 from file://{team.resolve()} is not signed"
    ]
    assert len(js(*at(target, "ls", "--all"))) == 2


@pytest.mark.parametrize(
    "config",
    ["require_signatures = true\n", '[sources]\nrequire_signatures = ["file://"]\n'],
    ids=["vault", "source-prefix"],
)
def test_an_unsigned_pack_is_refused_where_signatures_are_required(
    config: str, team: Path, target: Path
) -> None:
    (target / "config.toml").write_text(config)
    before = snapshot(target)
    result = tv(*at(target, "ingest", str(team)))
    refused(result, 1, "pack team@1 is unsigned and signatures are required for this source")
    assert snapshot(target) == before


def test_required_signatures_admit_a_trusted_signed_pack(
    signed: tuple[Path, str], target: Path
) -> None:
    pack, public = signed
    ok(*at(target, "trust", "add", "laptop", public))
    (target / "config.toml").write_text('[sources]\nrequire_signatures = ["file://"]\n')
    result = ok(*at(target, "ingest", str(pack)))
    assert "warning" not in result.stderr
    assert "2 version(s) added" in result.stdout


def test_a_pack_signed_by_an_untrusted_key_is_refused(
    signed: tuple[Path, str], target: Path
) -> None:
    pack, _ = signed
    before = snapshot(target)
    refused(
        tv(*at(target, "ingest", str(pack))),
        1,
        "which is not trusted; add it with 'toolvault trust add",
    )
    assert snapshot(target) == before


def test_a_manifest_edited_after_signing_is_refused(
    tmp_path: Path, signed: tuple[Path, str], target: Path
) -> None:
    pack, public = signed
    ok(*at(target, "trust", "add", "laptop", public))
    doc = manifest(pack)
    doc["tools"][1]["metadata"]["created_by"] = "@someone-else"
    edited = json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"
    tampered = rebuild(pack, tmp_path / "tampered.tar.gz", {"toolpack.json": edited})
    assert pack_members(tampered)["toolpack.json.sig"] == pack_members(pack)["toolpack.json.sig"]
    before = snapshot(target)
    refused(
        tv(*at(target, "ingest", str(tampered))),
        1,
        "the signature of toolpack.json does not verify with trusted key laptop",
    )
    assert snapshot(target) == before
    ok(*at(target, "ingest", str(pack)))  # the untouched pack still imports


def test_an_expired_pack_is_refused(tmp_path: Path, signed: tuple[Path, str], target: Path) -> None:
    _, public = signed
    ok(*at(target, "trust", "add", "laptop", public))
    old = tmp_path / "old.tar.gz"
    ok("pack", "export", "fmt", "-o", str(old), "--sign", "laptop", "--expires", "2020-01-31")
    assert manifest(old)["expires"] == "2020-01-31T00:00:00.000000Z"
    before = snapshot(target)
    refused(tv(*at(target, "ingest", str(old))), 1, "expired on 2020-01-31T00:00:00.000000Z")
    assert snapshot(target) == before
    fresh = tmp_path / "fresh.tar.gz"
    ok("pack", "export", "fmt", "-o", str(fresh), "--sign", "laptop", "--expires", "2999-01-31")
    ok(*at(target, "ingest", str(fresh)))
    refused(
        tv("pack", "export", "fmt", "-o", str(fresh), "--expires", "soon"),
        2,
        "--expires takes an ISO date",
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("#!/bin/sh\necho 0wo\n", "fmt:2 (tools/fmt/2) does not match its sha256 in the manifest"),
        ("#!/bin/sh\necho two!\n", "fmt:2 (tools/fmt/2) has 20 bytes, the manifest says 19"),
    ],
    ids=["sha256", "size"],
)
def test_a_file_that_differs_from_the_manifest_is_refused(
    content: str, words: str, tmp_path: Path, signed: tuple[Path, str], target: Path
) -> None:
    pack, public = signed
    ok(*at(target, "trust", "add", "laptop", public))
    bad = rebuild(pack, tmp_path / "bad.tar.gz", {"tools/fmt/2": content.encode()})
    before = snapshot(target)
    refused(tv(*at(target, "ingest", str(bad))), 2, words)
    assert snapshot(target) == before


def test_a_file_missing_from_the_archive_is_refused(
    tmp_path: Path, team: Path, target: Path
) -> None:
    members = pack_members(team)
    del members["tools/fmt/1"]
    short = tmp_path / "short.tar.gz"
    short.write_bytes(tar_gz(*(file(n, d, m) for n, (d, m) in members.items())))
    before = snapshot(target)
    refused(
        tv(*at(target, "ingest", str(short))),
        2,
        "is listed in the manifest but missing from the archive",
    )
    assert snapshot(target) == before


# -- malicious archives --------------------------------------------------------------------


def _many_members() -> bytes:
    rng = random.Random(4)  # random names keep the archive under the ratio limit
    return tar_gz(*(file(f"{i:05d}-{rng.randbytes(40).hex()}", b"") for i in range(10_001)))


EVIL = {
    "absolute": (
        lambda: tar_gz(file("toolpack.json", b"{}"), file("/etc/cron.d/evil")),
        "member '/etc/cron.d/evil' has an absolute path",
    ),
    "dotdot": (
        lambda: tar_gz(file("tools/../../evil.sh")),
        "member 'tools/../../evil.sh' has a '..' component",
    ),
    "symlink": (
        lambda: tar_gz((info("tools/fmt/1", tarfile.SYMTYPE, linkname="/etc/passwd"), b"")),
        "member 'tools/fmt/1' is a symbolic link (to '/etc/passwd')",
    ),
    "hardlink": (
        lambda: tar_gz(file("a"), (info("tools/fmt/1", tarfile.LNKTYPE, linkname="a"), b"")),
        "member 'tools/fmt/1' is a hard link (to 'a')",
    ),
    "device": (
        lambda: tar_gz((info("tools/tty", tarfile.CHRTYPE, devmajor=4, devminor=1), b"")),
        "member 'tools/tty' is a device",
    ),
    "members": (_many_members, "has more than 10000 members (limit max_members)"),
    "oversized": (
        lambda: tar_gz(file("tools/huge/1", random.Random(1).randbytes(MiB + 1))),
        f"member 'tools/huge/1' is {MiB + 1} bytes, over the limit of {MiB} bytes per file",
    ),
    "bomb": (
        lambda: zeros_tar_gz(100 * MiB),
        "(limit max_ratio); it looks like a decompression bomb",
    ),
}


@pytest.mark.parametrize("case", list(EVIL))
def test_a_malicious_archive_is_refused_and_the_vault_is_unchanged(
    case: str, tmp_path: Path, home: Path
) -> None:
    build, words = EVIL[case]
    publish(tmp_path, "fmt", V[0])
    publish(tmp_path, "fmt", V[1])
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(build())
    before = snapshot(home)
    assert {"vault.db", "commands/fmt", "commands/.history/fmt/2"} <= set(before)
    result = tv("ingest", str(evil))
    refused(result, 2, words)
    assert f"file://{evil.resolve()}" in result.stderr
    assert snapshot(home) == before


def test_more_than_the_unpacked_limit_is_refused(tmp_path: Path, home: Path) -> None:
    ok("init")
    (home / "config.toml").write_text("[packs]\nmax_unpacked_bytes = 1048576\n")
    rng = random.Random(2)  # incompressible, so the total limit, not the ratio, is hit
    evil = tmp_path / "big.tar.gz"
    evil.write_bytes(tar_gz(*(file(f"tools/t{i}/1", rng.randbytes(400_000)) for i in range(3))))
    before = snapshot(home)
    refused(tv("ingest", str(evil)), 2, "unpacks to more than 1048576 bytes (limit max_total)")
    assert snapshot(home) == before


def test_an_older_pack_imported_before_a_newer_one_is_refused_afterwards(
    tmp_path: Path, team: Path
) -> None:
    publish(tmp_path, "fmt", V[2])
    second = tmp_path / "team-2.tar.gz"
    ok("pack", "export", "fmt", "-o", str(second), "--pack-name", "team")
    target = tmp_path / "target"
    ok(*at(target, "ingest", str(team)))
    ok(*at(target, "ingest", str(second)))
    assert "unchanged" in ok(*at(target, "ingest", str(second))).stdout  # the newest again
    before = dump(target)
    again = tv(*at(target, "ingest", str(team)))
    refused(again, 1, "pack team version 1 is not newer than version 2, imported already")
    assert dump(target) == before


MALFORMED: list[tuple[str, Any]] = [
    ("labels", [{"x": 1}]),
    ("yanks", [{"name": "fmt", "version": "2", "reason": "r", "at": "t", "actor": "a"}]),
    ("tool_state", [1]),
    ("expires", "soon"),
]


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_a_manifest_with_a_field_of_the_wrong_shape_is_refused(
    tmp_path: Path, team: Path, key: str, value: Any
) -> None:
    doc = manifest(team)
    doc[key] = value
    bad = rebuild(team, tmp_path / "bad.tar.gz", {"toolpack.json": json.dumps(doc).encode()})
    target = tmp_path / "target"
    refused(tv(*at(target, "ingest", str(bad))), 2, "toolpack.json")


def test_metadata_of_the_wrong_type_is_refused(tmp_path: Path, team: Path) -> None:
    doc = manifest(team)
    doc["tools"][0]["metadata"]["created_by"] = {"not": "text"}
    bad = rebuild(team, tmp_path / "bad.tar.gz", {"toolpack.json": json.dumps(doc).encode()})
    refused(tv(*at(tmp_path / "target", "ingest", str(bad))), 2, "has a field of the wrong type")


def test_export_of_a_listing_spec_and_a_bad_pack_name(tmp_path: Path, team: Path) -> None:
    out = tmp_path / "all.tar.gz"
    ok("pack", "export", "fmt:versions", "-o", str(out), "--pack-name", "listing")
    assert [(t["name"], t["version"]) for t in manifest(out)["tools"]] == [("fmt", 1), ("fmt", 2)]
    refused(
        tv("pack", "export", "fmt", "-o", str(out), "--pack-name", "bad name"),
        2,
        "invalid pack name 'bad name'",
    )
