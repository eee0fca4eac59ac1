"""Lockfiles through a real daemon (``toolvault serve`` on 127.0.0.1): lock from it,
install from it into a fresh folder on a machine without a vault, verify against it."""

from __future__ import annotations

import dataclasses
import json
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from test_server import Daemon
from toolvault.cli import cli
from toolvault.lockfile.format import Lock, load, render

FMT1 = "#!/bin/sh\necho fmt one\n"
FMT2 = "#!/bin/sh\necho fmt two\n"
CSV = "print('csv')\n"


DAEMON_TOOLS = [("dfmt", FMT1, {}), ("dcsv", CSV, {})]  # published by conftest's daemon


@pytest.fixture
def remote(daemon: Daemon, token: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", token)
    return daemon.url


def tv(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def js(*args: str) -> Any:
    result = tv(*args, "--json")
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout)


def test_lock_install_and_verify_through_the_daemon(
    remote: str, daemon: Daemon, token: str, tmp_path: Path, home: Path
) -> None:
    lock = tmp_path / "toolvault.lock"
    made = js("lock", "dfmt", "dcsv", "-o", str(lock))
    assert made["written"] is True
    assert {t["source"] for t in tomllib.loads(lock.read_text())["tool"]} == {remote}
    into = tmp_path / "fresh"
    done = js("install", "--lock", str(lock), "--into", str(into))
    assert done["source"] == remote and len(done["installed"]) == 2
    assert (into / "dfmt").read_bytes() == daemon.call("GET", "/v1/content/dfmt:1", token).content
    assert stat.S_IMODE((into / "dfmt").stat().st_mode) == 0o755
    assert stat.S_IMODE((into / "dcsv").stat().st_mode) == 0o644
    assert (into / "dcsv").read_text() == CSV
    assert not (home / "vault.db").exists()  # this machine has no vault; none was made
    assert js("install", "--lock", str(lock), "--into", str(into))["installed"] == []
    assert js("verify", "--lock", str(lock), "--into", str(into))["ok"] is True

    (into / "dcsv").write_text("print('tampered')\n")
    result = tv("verify", "--lock", str(lock), "--into", str(into), "--json")
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["name"] == "dcsv" and str(into / "dcsv") in problem["detail"]

    # a newer latest on the daemon: information for verify, drift for --frozen
    assert daemon.publish(token, "dfmt", FMT2).status_code == 200
    report = js("verify", "--lock", str(lock))
    assert report["moved"] == [{"name": "dfmt", "pinned": 1, "latest": 2}]
    frozen = tv("install", "--lock", str(lock), "--into", str(tmp_path / "f2"), "--frozen")
    assert frozen.exit_code == 1 and "dfmt is pinned at 1, latest is dfmt:2" in frozen.stderr
    moved = js("lock", "--update", "dfmt", "-o", str(lock))
    assert [c["name"] for c in moved["changes"]] == ["dfmt"]
    js("install", "--lock", str(lock), "--into", str(into))
    assert (into / "dfmt").read_text() == FMT2 and (into / "dcsv").read_text() == CSV


def test_a_pin_the_daemon_does_not_have_is_refused(remote: str, tmp_path: Path) -> None:
    lock = tmp_path / "toolvault.lock"
    js("lock", "dfmt", "-o", str(lock))
    [pin] = load(str(lock)).pins
    lock.write_text(lock.read_text().replace('"dfmt:', '"dfmt-gone:'))
    result = tv("verify", "--lock", str(lock))
    assert result.exit_code == 1 and "digest" in result.stderr  # edited by hand
    # rebuilt with a matching digest, as someone who can edit it would
    lock.write_bytes(render(Lock((dataclasses.replace(pin, name="dfmt-gone"),))))
    into = tmp_path / "into"
    result = tv("install", "--lock", str(lock), "--into", str(into))
    assert result.exit_code == 1, result.output
    assert "there is no tool named 'dfmt-gone' in the daemon at" in result.stderr
    assert not into.exists()
