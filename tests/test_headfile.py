"""HOME/checkpoint kept open between writes (checkpoints/headfile.py): still replaced
atomically, still never by an older head, whoever writes, in whatever order.

The Sealer keeps the folder and both files (the file and its spare, which trade
places at every write) open; these tests hold that to the promises the file made when
every write opened everything afresh.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

from toolvault import Vault
from toolvault.checkpoints import FILE, Checkpoint, HeadFile, read_file, write_newest


def head(seq: int) -> Checkpoint:
    return Checkpoint(seq, "a" * 64, f"2025-01-01T00:00:{seq % 60:02}Z", "k", "p", "s", "b" * 64)


def seq_in(path: Path) -> int:
    return int(json.loads(path.read_text())["seq"])


def test_writers_in_turn_keep_the_newest_head(tmp_path: Path) -> None:
    """Two writers, each keeping its files open, in every order: the files trade places
    under them (A's file becomes B's spare and back), and an older head never wins."""
    path = tmp_path / FILE
    a, b = HeadFile(str(path)), HeadFile(str(path))
    try:
        steps = [(a, 1, True), (b, 2, True), (b, 3, True), (a, 2, False), (a, 4, True),
                 (b, 4, False), (b, 3, False), (a, 5, True), (a, 6, True), (b, 7, True),
                 (a, 6, False), (b, 8, True), (a, 9, True)]  # fmt: skip
        newest = 0
        for writer, seq, written in steps:
            assert writer.put(head(seq)) is written, (seq, written)
            newest = max(newest, seq)
            assert seq_in(path) == newest
        assert sorted(p.name for p in tmp_path.iterdir()) == [f".{FILE}.spare", FILE]
    finally:
        a.close()
        b.close()


def test_a_file_changed_behind_the_writer_is_read_again(tmp_path: Path) -> None:
    """What the writer wrote last spares it reading the file only while the file still
    holds exactly that: a newer head put there by hand (or a copy) is respected."""
    path = tmp_path / FILE
    writer = HeadFile(str(path))
    try:
        assert writer.put(head(5))
        path.write_text(json.dumps(head(50).to_dict()))  # same inode, new content
        assert writer.put(head(6)) is False and seq_in(path) == 50
        (tmp_path / "other").write_text(json.dumps(head(70).to_dict()))
        os.replace(tmp_path / "other", path)  # another file in its place
        assert writer.put(head(60)) is False and seq_in(path) == 70
        assert writer.put(head(71)) and seq_in(path) == 71
    finally:
        writer.close()


def test_a_spare_replaced_behind_a_writer_is_the_one_written(tmp_path: Path) -> None:
    """A writer never writes into a file it kept open because it was the spare once:
    only into the file at the spare's name now (the one it kept may be gone, or live)."""
    path, spare = tmp_path / FILE, tmp_path / f".{FILE}.spare"
    a, b = HeadFile(str(path)), HeadFile(str(path))
    try:
        for seq in (1, 2, 3):
            assert a.put(head(seq))
        for swap in ("removed", "another file"):
            spare.unlink()  # A keeps the old spare open, now gone
            if swap == "another file":
                spare.write_text("{}")
            newest = seq_in(path)
            assert b.put(head(newest + 1)) and seq_in(path) == newest + 1
            for seq in (newest + 2, newest + 3):
                assert a.put(head(seq)) and seq_in(path) == seq
    finally:
        a.close()
        b.close()


def test_a_link_at_the_spare_is_removed_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text("keep me\n")
    home = tmp_path / "home"
    home.mkdir()
    assert write_newest(home / FILE, head(1)) and write_newest(home / FILE, head(2))
    (home / f".{FILE}.spare").unlink()  # the spare, once there are two
    (home / f".{FILE}.spare").symlink_to(victim)
    assert write_newest(home / FILE, head(3)) and seq_in(home / FILE) == 3
    assert victim.read_text() == "keep me\n"
    assert not (home / f".{FILE}.spare").is_symlink()


WRITE_EVERY_OTHER = """
import sys
from toolvault.checkpoints import Checkpoint, HeadFile
path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kept = HeadFile(path)
print("ready", flush=True)
sys.stdin.readline()
for seq in range(first, first + 2 * count, 2):
    kept.put(Checkpoint(seq, "a" * 64, "2025-01-01T00:00:00Z", "k", "p", "s", "b" * 64))
"""


def test_processes_writing_at_once_leave_the_newest_and_readers_see_whole_files(
    tmp_path: Path,
) -> None:
    """Two processes, each with its files kept open, write odd and even heads at once;
    meanwhile every read of the file is a whole head, never older than the one before."""
    path = tmp_path / FILE
    assert write_newest(path, head(0))
    count = 400
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITE_EVERY_OTHER, str(path), str(first), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for first in (1, 2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        seen, reads = 0, 0
        while any(p.poll() is None for p in procs) and reads < 200_000:
            reads += 1
            now = read_file(path).seq  # a torn file would not be a checkpoint
            assert now >= seen, (now, seen)
            seen = now
        assert [p.wait(timeout=60) for p in procs] == [0, 0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert seq_in(path) == 2 * count


def test_threads_sharing_one_writer_leave_the_newest(tmp_path: Path) -> None:
    """Threads share the kept folder, and with it its flock: a lock of the writer's
    own keeps them apart (a daemon's threads share one sealer)."""
    import threading

    path = tmp_path / FILE
    kept, workers, each = HeadFile(str(path)), 4, 1000
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def write(worker: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(each):
                mine = 1 + worker + workers * i
                if kept.put(head(mine)):  # then the file holds it or newer, from now on
                    assert seq_in(path) >= mine
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        kept.close()
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert seq_in(path) == workers * each
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{FILE}.spare", FILE]


def test_a_forked_child_takes_locks_of_its_own(tmp_path: Path) -> None:
    """A child shares its parent's descriptors, and with them the parent's flock: it
    opens the folder afresh, and the parent's kept files still work afterwards."""
    path = tmp_path / FILE
    kept = HeadFile(str(path))
    try:
        assert kept.put(head(1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
            pid = os.fork()
        if pid == 0:  # the child
            code = 0 if kept.put(head(2)) and kept.put(head(3)) else 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert seq_in(path) == 3
        assert kept.put(head(2)) is False and kept.put(head(4)) and seq_in(path) == 4
    finally:
        kept.close()


def test_a_forked_child_is_held_off_by_its_parents_lock(tmp_path: Path) -> None:
    """flock belongs to the open folder, which a forked child shares: were the child to
    lock the descriptor it inherited, it would get the lock its parent holds."""
    import fcntl

    kept = HeadFile(str(tmp_path / FILE))
    try:
        assert kept.put(head(1))
        folder = kept._folder()
        fcntl.flock(folder, fcntl.LOCK_EX)  # the parent, in the middle of a write
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            try:
                fcntl.flock(kept._folder(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os._exit(0)  # held off, as it must be
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        fcntl.flock(folder, fcntl.LOCK_UN)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        kept.close()


def test_the_sealer_keeps_the_file_current_across_vaults_in_turn(home: Path) -> None:
    """Two vaults on one home, each with its sealer's files kept open, writing in turn."""
    with Vault.open(home) as one, Vault.open(home) as two:
        for i in range(6):
            (one if i % 3 else two).publish("greet", f"echo {i}\n".encode())
            assert seq_in(home / FILE) == one.store.audit_head()[0]
        assert one.verify().ok
