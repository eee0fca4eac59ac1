"""Events and webhooks (issue 17): what webhooks cost a publisher, how fast the worker
delivers, and how soon after a publish a receiver hears of it.

- publish cost: two daemons side by side in the same run, one vault with three webhook
  endpoints (its worker delivering meanwhile), one with none; publishes alternate
  between them; budget: median with hooks <= 1.1 x median without.
- throughput: N events delivered to one local receiver by ``hook deliver --once``'s
  worker; budget >= 500 events/s.
- latency: an idle daemon, one publish at a time, from sending the publish to the
  receiver's arrival; budget p50 < 50 ms, p99 < 250 ms.

Run: ``.venv/bin/python bench/events.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hookrecv import Receiver
from test_server import Daemon, make_token
from toolvault import Vault
from toolvault.events.worker import Worker


def config(home: Path, receiver: Receiver) -> None:
    home.mkdir(parents=True, exist_ok=True)
    allow = f'allow = ["http://127.0.0.1:{receiver.port}/"]'
    (home / "config.toml").write_text(f"[hooks]\n{allow}\npoll = 0.5\n")


def ms(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def publish_cost(tmp: Path, receiver: Receiver, n: int) -> tuple[float, float]:
    """Median publish time (ms) without and with three endpoints, alternating."""
    homes = [tmp / "none", tmp / "three"]
    for home in homes:
        config(home, receiver)
    tokens = [make_token(h, "root", "--admin") for h in homes]
    daemons = [Daemon(h) for h in homes]
    try:
        for i in range(3):
            body = {"url": f"{receiver.url}{i}"}
            assert daemons[1].call("POST", "/v1/hooks", tokens[1], json=body).status_code == 201
        times: list[list[float]] = [[], []]
        for i in range(n):
            for k in (i % 2, 1 - i % 2):  # alternate which goes first
                t0 = time.perf_counter()
                r = daemons[k].publish(tokens[k], f"t{i % 20}", f"echo {i}\n")
                times[k].append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
        receiver.wait_for(lambda got: len(got) >= 3 * n, 60)
        return ms(times[0])[0], ms(times[1])[0]
    finally:
        for d in daemons:
            d.stop()


def throughput(tmp: Path, receiver: Receiver, n: int) -> float:
    """Events per second delivered by one worker to one endpoint."""
    home = tmp / "throughput"
    config(home, receiver)
    with Vault.open(home) as vault:
        vault.add_hook(f"{receiver.url}t", ["publish"])
        from toolvault.vault import NewVersion

        for start in range(0, n, 500):
            vault.publish_many(
                [NewVersion(f"t{i}", f"echo {i}\n") for i in range(start, start + 500)]
            )
        before = len(receiver.got)
        t0 = time.perf_counter()
        Worker(vault).deliver_once()
        took = time.perf_counter() - t0
        assert len(receiver.got) - before == n
    return n / took


def latency(tmp: Path, receiver: Receiver, n: int) -> tuple[float, float]:
    """Publish-to-arrival on an idle daemon: p50 and p99 in ms."""
    home = tmp / "latency"
    config(home, receiver)
    token = make_token(home, "root", "--admin")
    d = Daemon(home)
    try:
        d.call("POST", "/v1/hooks", token, json={"url": f"{receiver.url}l", "events": ["publish"]})
        took = []
        for i in range(n):
            before = len(receiver.got)
            t0 = time.monotonic()
            assert d.publish(token, "lat", f"echo {i}\n").status_code == 200
            assert receiver.wait_for(lambda got, b=before: len(got) > b, 10)
            took.append(receiver.got[before].at - t0)
            time.sleep(0.02)  # idle between publishes: the daemon is waiting, not busy
        return ms(took)
    finally:
        d.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer samples.")
    quick = parser.parse_args().quick
    receiver = Receiver()
    try:
        with tempfile.TemporaryDirectory(prefix="toolvault-bench-events-") as t:
            tmp = Path(t)
            none, three = publish_cost(tmp, receiver, 100 if quick else 300)
            rate = throughput(tmp, receiver, 1000 if quick else 3000)
            p50, p99 = latency(tmp, receiver, 50 if quick else 200)
    finally:
        receiver.close()
    ratio = three / none
    rows = [
        ("publish, no hooks (median)", f"{none:.2f} ms", ""),
        ("publish, 3 hooks (median)", f"{three:.2f} ms", f"{ratio:.2f}x  (budget <= 1.10x)"),
        ("delivery throughput", f"{rate:.0f} events/s", "budget >= 500/s"),
        ("publish-to-delivery p50", f"{p50:.1f} ms", "budget < 50 ms"),
        ("publish-to-delivery p99", f"{p99:.1f} ms", "budget < 250 ms"),
    ]
    for label, value, note in rows:
        print(f"{label:32} {value:>16}  {note}")
    ok = ratio <= 1.1 and rate >= 500 and p50 < 50 and p99 < 250
    print("within budget" if ok else "OVER BUDGET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
