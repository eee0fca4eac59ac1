"""Concurrent publishers and crashes (SPEC §3): no duplicate, missing or broken versions."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

from conftest import run_together
from toolvault import Vault

WORKERS = 4
PER_WORKER = 50

PUBLISH_AT_ONCE = """
import sys
from toolvault import Vault
home, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
with Vault.open(home) as vault:
    for i in range(count):
        vault.publish("shared", f"echo {worker} {i}\\n".encode())
"""

PUBLISH_FOREVER = """
import sys
from toolvault import Vault
with Vault.open(sys.argv[1]) as vault:
    for i in range(1_000_000):
        vault.publish("looped", f"echo {i}\\n".encode())
"""


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored_versions(home: Path, name: str) -> list[int]:
    """Version numbers as another reader sees them right now."""
    with closing(sqlite3.connect(home / "vault.db")) as db:
        rows = db.execute("SELECT version FROM versions WHERE name = ? ORDER BY version", (name,))
        return [r[0] for r in rows]


def test_processes_publishing_at_once_get_consecutive_versions(home: Path) -> None:
    Vault.open(home).close()
    argvs = [[str(home), str(w), str(PER_WORKER)] for w in range(WORKERS)]
    results = run_together(PUBLISH_AT_ONCE, *argvs)
    assert [(code, err) for code, _, err in results] == [(0, "")] * WORKERS
    total = WORKERS * PER_WORKER
    with Vault.open(home) as vault:
        versions = vault.versions("shared")
        assert [v.version for v in versions] == list(range(1, total + 1))
        texts = [vault.cat(f"shared:{v.version}").text for v in versions]
        assert vault.verify().ok
        assert os.readlink(home / "commands" / "shared") == f".history/shared/{total}"
    assert sorted(texts) == sorted(
        f"echo {w} {i}\n" for w in range(WORKERS) for i in range(PER_WORKER)
    )
    for w in range(WORKERS):  # each worker's publishes landed in the order it made them
        mine = [int(t.split()[2]) for t in texts if t.split()[1] == str(w)]
        assert mine == list(range(PER_WORKER))


def test_threads_with_their_own_vault_get_consecutive_versions(home: Path) -> None:
    Vault.open(home).close()
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def publish(worker: int) -> None:
        try:
            with Vault.open(home) as vault:
                start.wait(timeout=30)
                for i in range(25):
                    vault.publish("threaded", f"echo {worker} {i}\n".encode())
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    with Vault.open(home) as vault:
        assert [v.version for v in vault.versions("threaded")] == list(range(1, WORKERS * 25 + 1))
        assert vault.verify().ok


def test_a_publisher_killed_mid_loop_leaves_a_sound_vault(home: Path) -> None:
    Vault.open(home).close()
    proc = spawn(PUBLISH_FOREVER, str(home))
    try:
        deadline = time.monotonic() + 60
        while len(stored_versions(home, "looped")) < 30:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the publisher made no progress"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert err == ""

    with closing(sqlite3.connect(home / "vault.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    numbers = stored_versions(home, "looped")
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 30
    with Vault.open(home) as vault:
        assert vault.store.integrity_check() == ["ok"]
        vault.sync()
        assert vault.verify().ok, vault.verify().problems
        latest = vault.cat("looped")
        assert latest.text == f"echo {latest.version - 1}\n"
        assert vault.publish("looped", b"after the crash\n").version == len(numbers) + 1
        assert vault.verify().ok
