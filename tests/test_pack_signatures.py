"""The version signatures a pack restores (issue 11, item 10): checked like any other
signature before anything is written. A forged one is refused; one by a key the vault
does not trust is refused where signatures are required, and a warning elsewhere."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from test_archive import file, tar_gz
from test_cli import js, ok, tv
from test_packs import V, at, manifest, pack_members, publish, rebuild, refused, snapshot
from toolvault.signing import KeyRing


@pytest.fixture
def keys(tmp_path: Path, home: Path) -> dict[str, str]:
    """HOME holds fmt:1, fmt:2 signed by 'laptop'; returns the public halves of the keys
    'laptop' (signs versions) and 'release' (signs packs)."""
    laptop = ok("keys", "generate", "laptop").stdout.strip()
    release = ok("keys", "generate", "release").stdout.strip()
    publish(tmp_path, "fmt", V[0], "--sign", "laptop")
    publish(tmp_path, "fmt", V[1], "--sign", "laptop")
    return {"laptop": laptop, "release": release}


def export(tmp_path: Path, *args: str) -> Path:
    pack = tmp_path / "fmt.tar.gz"
    ok("pack", "export", "fmt", "-o", str(pack), "--pack-name", "team", *args)
    return pack


def forged(tmp_path: Path, pack: Path, how: str) -> Path:
    """The pack with version 2's signature made not to hold, in one of several ways."""
    doc = manifest(pack)
    meta = doc["tools"][1]["metadata"]
    if how == "field":  # a signed field changed after signing
        meta["created_by"] = "@someone-else"
    elif how == "other-version":  # version 1's signature, copied onto version 2
        meta["signature"] = doc["tools"][0]["metadata"]["signature"]
    elif how == "zeros":  # a well-formed signature of nothing
        meta["signature"] = base64.b64encode(bytes(64)).decode()
    else:  # not base64 at all
        meta["signature"] = "not a signature!"
    data = json.dumps(doc, sort_keys=True).encode()
    return rebuild(pack, tmp_path / f"forged-{how}.tar.gz", {"toolpack.json": data})


@pytest.mark.parametrize("how", ["field", "other-version", "zeros", "garbage"])
def test_a_forged_version_signature_is_refused_and_nothing_is_written(
    tmp_path: Path, keys: dict[str, str], how: str
) -> None:
    bad = forged(tmp_path, export(tmp_path), how)
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "laptop", keys["laptop"]))
    before = snapshot(target)
    refused(
        tv(*at(target, "ingest", str(bad))),
        1,
        "the signature of fmt:2 does not verify with trusted key laptop",
    )
    assert snapshot(target) == before
    assert js(*at(target, "verify"))["ok"] is True


def test_a_forged_version_signature_is_refused_in_a_pack_signed_by_a_trusted_key(
    tmp_path: Path, keys: dict[str, str], home: Path
) -> None:
    """A signed manifest vouches for what it lists, not for the versions' signatures."""
    pack = export(tmp_path, "--sign", "release")
    doc = manifest(pack)
    doc["tools"][1]["metadata"]["prompt"] = "an injected prompt"
    data = json.dumps(doc, sort_keys=True).encode()
    release = KeyRing(home).load("release")
    sig = {"key_id": release.key_id, "signature": release.sign(data)}
    members = pack_members(pack)
    members["toolpack.json"] = (data, 0o644)
    members["toolpack.json.sig"] = (json.dumps(sig).encode(), 0o644)
    bad = tmp_path / "resigned.tar.gz"
    bad.write_bytes(tar_gz(*(file(n, d, m) for n, (d, m) in members.items())))
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "laptop", keys["laptop"]))
    ok(*at(target, "trust", "add", "release", keys["release"]))
    before = snapshot(target)
    refused(tv(*at(target, "ingest", str(bad))), 1, "the signature of fmt:2 does not verify")
    assert snapshot(target) == before


@pytest.mark.parametrize(
    "config",
    ["require_signatures = true\n", '[sources]\nrequire_signatures = ["file://"]\n'],
    ids=["vault", "source-prefix"],
)
def test_versions_by_an_untrusted_signer_are_refused_where_signatures_are_required(
    tmp_path: Path, keys: dict[str, str], config: str
) -> None:
    pack = export(tmp_path, "--sign", "release")  # the pack's own signature is trusted
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "release", keys["release"]))
    (target / "config.toml").write_text(config)
    before = snapshot(target)
    refused(
        tv(*at(target, "ingest", str(pack))),
        1,
        "fmt:1, fmt:2 signed by key",
    )
    assert snapshot(target) == before
    ok(*at(target, "trust", "add", "laptop", keys["laptop"]))  # now they are trusted
    assert "warning" not in ok(*at(target, "ingest", str(pack))).stderr
    assert js(*at(target, "verify"))["ok"] is True


def test_versions_by_an_untrusted_signer_import_with_a_warning_elsewhere(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    pack = export(tmp_path, "--sign", "release")
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "release", keys["release"]))
    result = ok(*at(target, "ingest", str(pack)))
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "fmt:1, fmt:2 from file://" in warnings[0]
    assert "which is not trusted" in warnings[0]
    assert len(js(*at(target, "ls", "--all"))) == 2
    ok(*at(target, "trust", "add", "laptop", keys["laptop"]))
    assert js(*at(target, "verify"))["ok"] is True


def test_a_vault_that_requires_signatures_never_stores_an_unsigned_version_from_a_pack(
    tmp_path: Path, keys: dict[str, str], home: Path
) -> None:
    """Restored versions must carry their signatures, and appended ones are signed with
    ``sign_with`` as a publish is: what verify would report is never stored."""
    publish(tmp_path, "plain", V[0])
    unsigned = tmp_path / "plain.tar.gz"
    # a signed pack (as such a vault requires) of versions that are not
    ok("pack", "export", "plain", "-o", str(unsigned), "--pack-name", "plain", "--sign", "release")
    signed = export(tmp_path, "--sign", "release")  # fmt:1, fmt:2 signed by laptop
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "laptop", keys["laptop"]))
    ok(*at(target, "trust", "add", "release", keys["release"]))
    (target / "config.toml").write_text("require_signatures = true\n")
    before = snapshot(target)
    refused(tv(*at(target, "ingest", str(unsigned))), 1, "would restore plain:1 unsigned")
    assert snapshot(target) == before
    ok(*at(target, "ingest", str(signed)))  # restored with their signatures
    assert js(*at(target, "verify"))["ok"] is True
    # a pack that adds to a tool the vault has is appended: signed as a publish is
    (target / "keys").mkdir(mode=0o700, exist_ok=True)
    key = target / "keys" / "laptop.key"
    key.write_bytes((home / "keys" / "laptop.key").read_bytes())
    key.chmod(0o600)
    publish(tmp_path, "plain", V[1], "--sign", "laptop", home=target)
    before = snapshot(target)
    refused(tv(*at(target, "ingest", str(unsigned))), 1, "requires signatures")
    assert snapshot(target) == before
    (target / "config.toml").write_text('require_signatures = true\nsign_with = "laptop"\n')
    ok(*at(target, "ingest", str(unsigned)))
    shown = js(*at(target, "show", "plain"))
    assert shown["version"] == 2 and shown["key_id"] and shown["signature"]
    assert shown["origin"].startswith("pack:plain@1")
    assert js(*at(target, "verify"))["ok"] is True


@pytest.mark.parametrize("member", ["toolpack.json", "toolpack.json.sig"])
def test_a_signed_manifest_that_reads_two_ways_is_refused(
    tmp_path: Path, keys: dict[str, str], home: Path, member: str
) -> None:
    """JSON readers differ on which of two equal keys counts (Python's the last, many
    others the first): a manifest, or its signature, holding a key twice is refused even
    when the signature over its bytes holds, and nothing is written."""
    pack = export(tmp_path, "--sign", "release")
    members = pack_members(pack)
    data = json.dumps(manifest(pack), sort_keys=True).encode()
    release = KeyRing(home).load("release")
    sig = json.dumps({"key_id": release.key_id, "signature": release.sign(data)}).encode()
    if member == "toolpack.json":  # "name" twice: "other" to first-wins readers
        data = data.replace(b'{"created": ', b'{"name": "other", "created": ', 1)
        sig = json.dumps({"key_id": release.key_id, "signature": release.sign(data)}).encode()
        words = "holds the key 'name' twice"
    else:
        sig = sig.replace(b'{"key_id": ', b'{"key_id": "laptop", "key_id": ', 1)
        words = "toolpack.json.sig must hold"
    assert data.count(b'"name": "other"') + sig.count(b'"key_id": "laptop"') == 1
    members["toolpack.json"] = (data, 0o644)
    members["toolpack.json.sig"] = (sig, 0o644)
    bad = tmp_path / "twice.tar.gz"
    bad.write_bytes(tar_gz(*(file(n, d, m) for n, (d, m) in members.items())))
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "release", keys["release"]))
    before = snapshot(target)
    refused(tv(*at(target, "ingest", str(bad))), 2, words)
    assert snapshot(target) == before
