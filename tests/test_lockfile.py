"""Lockfiles (SPEC §16): lock, install --lock, verify --lock, on one machine and another."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from toolvault import NewVersion, Vault
from toolvault.cli import cli
from toolvault.errors import NotFound

FMT1 = "#!/bin/sh\necho fmt one\n"
FMT2 = "#!/bin/sh\necho fmt two\n"
CSV1 = "import sys\nprint(sum(1 for _ in sys.stdin))\n"
CSV2 = "import sys\nprint(len(sys.stdin.read().splitlines()))\n"


def tv(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args])


def ok(home: Path, *args: str) -> Result:
    result = tv(home, *args)
    assert result.exit_code == 0, (args, result.output)
    return result


def js(home: Path, *args: str) -> Any:
    return json.loads(ok(home, *args, "--json").stdout)


def refused(home: Path, code: int, *args: str) -> str:
    """The one line of a refused command."""
    result = tv(home, *args)
    assert result.exit_code == code, (args, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolvault: error: "), result.stderr
    return lines[0]


def publish(home: Path, tmp: Path, name: str, text: str, *more: str) -> dict[str, Any]:
    src = tmp / f"src-{name}"
    src.write_text(text)
    src.chmod(0o755 if text.startswith("#!") else 0o644)
    found: dict[str, Any] = js(home, "add", str(src), "--name", name, *more)[0]
    return found


def ref(home: Path, spec: str) -> str:
    found: str = js(home, "show", spec)["ref"]
    return found


def files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in a folder with its bytes and permission bits."""
    return {
        p.name: (p.read_bytes(), stat.S_IMODE(p.lstat().st_mode)) for p in sorted(folder.iterdir())
    }


@pytest.fixture
def project(tmp_path: Path, home: Path) -> Path:
    """A project folder whose vault (``home``) has fmt:1 and csvsum:1, locked."""
    publish(home, tmp_path, "fmt", FMT1)
    publish(home, tmp_path, "csvsum", CSV1)
    work = tmp_path / "project"
    work.mkdir()
    ok(home, "lock", "fmt", "csvsum", "-o", str(work / "toolvault.lock"))
    return work


def pins(lock: Path) -> dict[str, dict[str, Any]]:
    doc = tomllib.loads(lock.read_text())
    return {t["ref"].split(":")[0]: t for t in doc["tool"]}


def test_lock_writes_each_pin_and_an_unchanged_lock_is_not_rewritten(
    project: Path, home: Path
) -> None:
    lock = project / "toolvault.lock"
    doc = tomllib.loads(lock.read_text())
    assert doc["format"] == "toolvault-lock/1"
    assert doc["digest"].startswith("sha256:") and len(doc["digest"]) == 71
    found = pins(lock)
    assert found["fmt"] == {
        "ref": ref(home, "fmt:1"),
        "size": len(FMT1),
        "executable": True,
        "source": str(home),
    }
    assert found["csvsum"]["executable"] is False and "signer" not in found["csvsum"]
    before, inode = lock.read_bytes(), lock.stat().st_ino
    again = js(home, "lock", "fmt", "csvsum", "-o", str(lock))
    assert again["written"] is False and again["changes"] == []
    assert lock.read_bytes() == before and lock.stat().st_ino == inode
    assert js(home, "lock", "-o", str(lock))["written"] is False  # no names: the same


def test_lock_pack_install_on_a_second_home_gives_the_same_files(
    tmp_path: Path, home: Path
) -> None:
    key = js(home, "keys", "generate", "team")
    publish(home, tmp_path, "fmt", FMT1, "--sign", "team")
    publish(home, tmp_path, "csvsum", CSV1)
    lock = tmp_path / "toolvault.lock"
    ok(home, "lock", "fmt", "csvsum", "-o", str(lock))
    assert pins(lock)["fmt"]["signer"] == key["key_id"]
    pack = tmp_path / "tools.tar.gz"
    ok(home, "pack", "export", "fmt", "csvsum", "-o", str(pack))
    ok(home, "install", "--lock", str(lock), "--into", str(tmp_path / "here"))

    other = tmp_path / "other-machine"
    ok(other, "init")
    ok(other, "trust", "add", "team", key["public"])
    fresh = tmp_path / "fresh"
    done = js(other, "install", "--lock", str(lock), "--into", str(fresh), "--from", str(pack))
    assert sorted(done["installed"]) == sorted(t["ref"] for t in pins(lock).values())
    expected = {"fmt": (FMT1.encode(), 0o755), "csvsum": (CSV1.encode(), 0o644)}
    assert files(fresh) == expected == files(tmp_path / "here")
    # the same from the second vault, once the pack is ingested there
    ok(other, "ingest", str(pack))
    from_vault = tmp_path / "from-vault"
    ok(other, "install", "--lock", str(lock), "--into", str(from_vault))
    assert files(from_vault) == expected
    ok(other, "verify", "--lock", str(lock), "--into", str(from_vault))


def test_a_second_install_writes_nothing_and_strays_are_left_alone(
    project: Path, home: Path
) -> None:
    lock, into = str(project / "toolvault.lock"), project / "tools"
    into.mkdir()
    (into / "mine.sh").write_text("keep me\n")
    first = js(home, "install", "--lock", lock, "--into", str(into))
    assert len(first["installed"]) == 2 and first["strays"] == ["mine.sh"]
    inodes = {p.name: p.stat().st_ino for p in into.iterdir()}
    second = js(home, "install", "--lock", lock, "--into", str(into))
    assert second["installed"] == [] and len(second["unchanged"]) == 2
    assert {p.name: p.stat().st_ino for p in into.iterdir()} == inodes
    assert (into / "mine.sh").read_text() == "keep me\n"
    text = ok(home, "install", "--lock", lock, "--into", str(into)).stdout
    assert "not in the lock, left alone: mine.sh" in text


def test_a_tampered_installed_file_fails_verify_naming_it(project: Path, home: Path) -> None:
    lock, into = str(project / "toolvault.lock"), project / "tools"
    ok(home, "install", "--lock", lock, "--into", str(into))
    assert js(home, "verify", "--lock", lock, "--into", str(into))["ok"] is True
    (into / "fmt").write_text(FMT1.replace("one", "eno"))  # same size, other bytes
    result = tv(home, "verify", "--lock", lock, "--into", str(into), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) >= {"ok", "checked", "problems"} and report["ok"] is False
    assert report["checked"] == {"pins": 2, "files": 2}
    [problem] = report["problems"]
    assert problem["kind"] == "installed" and problem["name"] == "fmt"
    assert str(into / "fmt") in problem["detail"] and "differs" in problem["detail"]
    (into / "fmt").write_text(FMT1)
    (into / "fmt").chmod(0o644)  # the right bytes, not executable
    text = tv(home, "verify", "--lock", lock, "--into", str(into)).stdout
    assert "has mode 644" in text and "FAILED" in text
    (into / "csvsum").unlink()
    assert "is missing" in tv(home, "verify", "--lock", lock, "--into", str(into)).stdout
    ok(home, "install", "--lock", lock, "--into", str(into))  # puts both right again
    ok(home, "verify", "--lock", lock, "--into", str(into))


def test_a_tampered_pin_hash_fails_the_digest_check(project: Path, home: Path) -> None:
    lock = project / "toolvault.lock"
    sha = hashlib.sha256(FMT1.encode()).hexdigest()
    forged = hashlib.sha256(b"evil").hexdigest()
    lock.write_text(lock.read_text().replace(sha, forged))
    line = refused(home, 1, "verify", "--lock", str(lock))
    assert "digest" in line and "does not match its pins" in line and str(lock) in line
    into = project / "tools"
    line = refused(home, 1, "install", "--lock", str(lock), "--into", str(into))
    assert "digest" in line and not into.exists()


def test_a_renamed_tool_with_the_same_content_does_not_satisfy_the_old_pin(
    tmp_path: Path, project: Path, home: Path
) -> None:
    lock = str(project / "toolvault.lock")
    other = tmp_path / "other"
    publish(other, tmp_path, "fmt-renamed", FMT1)  # same bytes, same hash, another name
    publish(other, tmp_path, "csvsum", CSV1)
    into = tmp_path / "into"
    line = refused(other, 1, "install", "--lock", lock, "--into", str(into))
    assert "no tool named 'fmt'" in line and "nothing was installed" in line
    assert not into.exists()  # not even csvsum, which is there
    result = tv(other, "verify", "--lock", lock, "--json")
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["name"] == "fmt" and problem["kind"] == "pin"
    # the pack of the renamed tool does not satisfy it either
    pack = tmp_path / "renamed.tar.gz"
    ok(other, "pack", "export", "fmt-renamed", "csvsum", "-o", str(pack))
    line = refused(home, 1, "install", "--lock", lock, "--into", str(into), "--from", str(pack))
    assert "holds no tool named 'fmt'" in line
    # nor does another history of a tool of that name
    publish(other, tmp_path, "fmt", FMT2)
    line = refused(other, 1, "install", "--lock", lock, "--into", str(into))
    assert "the lock pins" in line and "sha256" in line


def test_update_of_one_tool_moves_only_its_pin(tmp_path: Path, project: Path, home: Path) -> None:
    lock = project / "toolvault.lock"
    before = pins(lock)
    publish(home, tmp_path, "fmt", FMT2)
    publish(home, tmp_path, "csvsum", CSV2)
    assert js(home, "lock", "fmt", "csvsum", "-o", str(lock))["written"] is False
    moved = js(home, "lock", "--update", "fmt", "-o", str(lock))
    assert moved["changes"] == [
        {"name": "fmt", "from": before["fmt"]["ref"], "to": ref(home, "fmt:2")}
    ]
    after = pins(lock)
    assert after["csvsum"] == before["csvsum"] and after["fmt"]["ref"] == ref(home, "fmt:2")
    js(home, "lock", "--update", "-o", str(lock))  # every pin
    assert pins(lock)["csvsum"]["ref"] == ref(home, "csvsum:2")
    js(home, "lock", "fmt:1", "-o", str(lock))  # an explicit selector pins that version
    assert pins(lock)["fmt"]["ref"] == ref(home, "fmt:1")


def test_frozen_fails_on_drift_and_installs_when_the_lock_is_current(
    tmp_path: Path, project: Path, home: Path
) -> None:
    lock, into = str(project / "toolvault.lock"), tmp_path / "into"
    ok(home, "install", "--lock", lock, "--into", str(into), "--frozen")
    publish(home, tmp_path, "fmt", FMT2)
    fresh = tmp_path / "fresh"
    line = refused(home, 1, "install", "--lock", lock, "--into", str(fresh), "--frozen")
    assert "--frozen" in line and "fmt is pinned at 1, latest is fmt:2" in line
    assert not fresh.exists()
    ok(home, "install", "--lock", lock, "--into", str(fresh))  # without --frozen: the pin
    assert (fresh / "fmt").read_text() == FMT1


def test_a_yanked_pin_warns_and_a_newer_latest_is_information(
    tmp_path: Path, project: Path, home: Path
) -> None:
    lock, into = str(project / "toolvault.lock"), tmp_path / "into"
    publish(home, tmp_path, "csvsum", CSV2)
    ok(home, "yank", "fmt:1", "--reason", "prints the wrong thing")
    result = tv(home, "verify", "--lock", lock, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["moved"] == [{"name": "csvsum", "pinned": 1, "latest": 2}]
    assert any("fmt:1@" in w and "prints the wrong thing" in w for w in report["warnings"])
    assert "toolvault: warning: fmt:1@" in result.stderr
    text = ok(home, "verify", "--lock", lock).stdout
    assert "csvsum is pinned at 1; its latest is 2" in text and "ok" in text
    installed = tv(home, "install", "--lock", lock, "--into", str(into))
    assert installed.exit_code == 0 and "is yanked" in installed.stderr


def test_a_signed_lock_is_checked_and_never_silently_unsigned(
    tmp_path: Path, project: Path, home: Path
) -> None:
    lock = project / "toolvault.lock"
    key = js(home, "keys", "generate", "release")
    signed = js(home, "lock", "-o", str(lock), "--sign", "release")
    assert signed["written"] is True and signed["signed_by"] == key["key_id"]
    assert tomllib.loads(lock.read_text())["signature"]["key_id"] == key["key_id"]
    again = js(home, "lock", "-o", str(lock), "--sign", "release")
    assert again["written"] is False  # Ed25519 signs the same pins the same way
    ok(home, "verify", "--lock", str(lock))
    publish(home, tmp_path, "fmt", FMT2)
    line = refused(home, 2, "lock", "--update", "-o", str(lock))
    assert "is signed" in line and "--sign KEY" in line
    # a second machine that does not trust the key refuses the lock
    other = tmp_path / "other"
    ok(other, "init")
    line = refused(other, 1, "verify", "--lock", str(lock))
    assert "signature does not hold" in line and "does not trust" in line
    # a forged signature fails where the key is trusted
    text = lock.read_text()
    value = tomllib.loads(text)["signature"]["value"]
    forged = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    lock.write_text(text.replace(value, forged))
    into = tmp_path / "into"
    line = refused(home, 1, "install", "--lock", str(lock), "--into", str(into))
    assert "signature does not hold" in line and not into.exists()


def test_a_signed_pin_needs_a_trusted_signature_where_it_is_installed(
    tmp_path: Path, home: Path
) -> None:
    js(home, "keys", "generate", "team")
    publish(home, tmp_path, "fmt", FMT1, "--sign", "team")
    lock, pack = tmp_path / "toolvault.lock", tmp_path / "p.tar.gz"
    ok(home, "lock", "fmt", "-o", str(lock))
    ok(home, "pack", "export", "fmt", "-o", str(pack))
    other, into = tmp_path / "other", tmp_path / "into"
    ok(other, "init")
    args = ("install", "--lock", str(lock), "--into", str(into), "--from", str(pack))
    line = refused(other, 1, *args)
    assert "does not trust" in line and "nothing was installed" in line
    assert not into.exists()
    nowhere = tmp_path / "no-vault-here"
    line = refused(nowhere, 1, *args)
    assert "no vault here whose trust store could check it" in line


def test_lock_refuses_what_names_no_one_version(tmp_path: Path, project: Path, home: Path) -> None:
    lock = str(project / "toolvault.lock")
    assert "several versions" in refused(home, 2, "lock", "fmt:versions", "-o", lock)
    assert "several versions" in refused(home, 2, "lock", "fmt:1..latest", "-o", lock)
    assert "named twice" in refused(home, 2, "lock", "fmt", "fmt:1", "-o", lock)
    assert "no tool named 'nope'" in refused(home, 1, "lock", "nope", "-o", lock)
    fresh = str(tmp_path / "new.lock")
    assert "name the tools to pin" in refused(home, 2, "lock", "-o", fresh)
    assert not os.path.exists(fresh)
    assert "add --lock FILE" in refused(home, 2, "verify", "--into", str(tmp_path))
    assert "separate" in refused(home, 2, "verify", "fmt", "--lock", lock)


def test_modes_are_exact_whatever_the_umask(project: Path, home: Path, tmp_path: Path) -> None:
    lock = str(project / "toolvault.lock")
    old = os.umask(0o077)
    try:
        ok(home, "install", "--lock", lock, "--into", str(tmp_path / "strict"))
    finally:
        os.umask(old)
    expected = {"fmt": (FMT1.encode(), 0o755), "csvsum": (CSV1.encode(), 0o644)}
    assert files(tmp_path / "strict") == expected


def test_the_library_over_both_stores(vault: Vault, tmp_path: Path) -> None:
    """lock, install and verify through the library, on SQLite and PostgreSQL: the pins
    are read a few hundred a query (store.versions_at), a missing one is named."""
    from toolvault.lockfile.format import Lock, load, render
    from toolvault.lockfile.install import install
    from toolvault.lockfile.making import make_lock
    from toolvault.lockfile.sources import VaultSource
    from toolvault.lockfile.verify import verify_lock

    names = [f"t{i:03d}" for i in range(300)]  # more than one query's worth of pins
    vault.publish_many([NewVersion(n, f"#!/bin/sh\necho {n}\n") for n in names])
    vault.publish_many([NewVersion("t000", "#!/bin/sh\necho newer\n")])
    lock = str(tmp_path / "toolvault.lock")
    made = make_lock(VaultSource(vault), lock, [*names[1:], "t000:1"])
    assert len(made.lock.pins) == 300 and made.written
    done = install(load(lock), lock, str(tmp_path / "into"), VaultSource(vault))
    assert len(done.installed) == 300
    assert (tmp_path / "into" / "t000").read_text() == "#!/bin/sh\necho t000\n"
    report = verify_lock(load(lock), lock, VaultSource(vault), str(tmp_path / "into"))
    assert report.ok and report.moved == [{"name": "t000", "pinned": 1, "latest": 2}]
    pins = [dataclasses.replace(p, version=9) if p.name == "t123" else p for p in made.lock.pins]
    Path(lock).write_bytes(render(Lock(tuple(pins))))
    with pytest.raises(NotFound, match=r"tool 't123' in the vault at .* has versions 1\.\.1"):
        install(load(lock), lock, str(tmp_path / "other"), VaultSource(vault))
