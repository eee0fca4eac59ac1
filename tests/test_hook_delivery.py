"""Webhook delivery (SPEC §15, issue 17): Standard Webhooks signatures checked by a real
receiver on 127.0.0.1, order, retries with their spacing and recorded attempts,
Retry-After, 410, timeouts, redelivery; the worker in-process over both stores."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from hookrecv import Receiver
from toolvault import Vault
from toolvault.events.settings import HookSettings
from toolvault.events.worker import Worker


def configure(vault: Vault, allow: list[str], **hooks: Any) -> None:
    """Write [hooks] into config.toml and make the vault read it again."""
    lines = [f"allow = {json.dumps(allow)}"] + [f"{k} = {json.dumps(v)}" for k, v in hooks.items()]
    (vault.home / "config.toml").write_text("[hooks]\n" + "\n".join(lines) + "\n")
    vault._config = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def running(vault: Vault) -> Iterator[Worker]:
    worker = Worker(vault)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop.set()
        thread.join(timeout=30)


def eventually(test: Any, timeout: float = 20.0) -> bool:
    """Whether ``test()`` holds within ``timeout`` seconds (looked at every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.02)
    return bool(test())


def publish(vault: Vault, name: str, n: int) -> None:
    for i in range(n):
        vault.publish(name, f"#!/bin/sh\necho {name} {i}\n")


def test_every_event_arrives_in_order_signed_v1_and_v1a(vault: Vault) -> None:
    hmac_r, ed_r = Receiver(), Receiver()
    try:
        configure(vault, [f"http://127.0.0.1:{hmac_r.port}/", f"http://127.0.0.1:{ed_r.port}/"])
        vault.generate_key("hooks")
        h1, secret = vault.add_hook(hmac_r.url)
        h2, none = vault.add_hook(ed_r.url, sign="hooks")
        assert secret is not None and secret.startswith("whsec_") and none is None
        assert h2.public_key is not None and h2.signing == "v1a"
        publish(vault, "fmt", 5)
        vault.label("fmt:2", "stable")
        vault.rollback("fmt", 1)
        assert Worker(vault).deliver_once() >= 2
        seqs = [e.seq for e in vault.audit() if e.seq > h2.delivered_through]
        assert [r.seq for r in hmac_r.got] == [e.seq for e in vault.audit()][-len(hmac_r.got) :]
        assert [r.seq for r in ed_r.got] == seqs
        hook = standardwebhooks.Webhook(secret)
        for r in hmac_r.got:
            body = hook.verify(r.body, r.headers)
            assert r.id == f"msg_{h1.id}_{body['seq']}"
            assert r.headers["webhook-signature"].startswith("v1,")
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(h2.public_key[5:]))
        for r in ed_r.got:
            scheme, sig = r.headers["webhook-signature"].split(",", 1)
            assert scheme == "v1a"
            signed = f"{r.id}.{r.headers['webhook-timestamp']}.".encode() + r.body
            public.verify(base64.b64decode(sig), signed)  # raises when it does not hold
            with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
                hook.verify(r.body, r.headers)  # not an HMAC signature: refused as one
        types = [json.loads(r.body)["type"] for r in ed_r.got]
        assert types == ["publish"] * 5 + ["label", "rollback"]
        body = json.loads(ed_r.got[1].body)
        entry = next(e for e in vault.audit() if e.seq == body["seq"])
        assert body["hash"] == entry.hash and body["prev_hash"] == entry.prev_hash
        assert body["ref"] == vault.get("fmt:2").ref and body["actor"] == entry.actor
        assert all(d.state == "delivered" for d in vault.hook_deliveries(h1.id, limit=50))
        assert Worker(vault).deliver_once() == 0  # nothing twice
        assert len(hmac_r.got) == len(seqs) + 1  # and h2's own hook-add went to h1
    finally:
        hmac_r.close()
        ed_r.close()


def test_filters_by_event_and_tool(sqlite_vault: Vault, receiver: Receiver) -> None:
    vault = sqlite_vault
    configure(vault, [f"http://127.0.0.1:{receiver.port}/"])
    vault.add_hook(receiver.url, ["label", "rollback"], ["fmt"])
    publish(vault, "fmt", 2)
    publish(vault, "lint", 2)
    vault.label("fmt:1", "stable")
    vault.label("lint:1", "stable")
    vault.rollback("fmt", 1)
    Worker(vault).deliver_once()
    got = [(json.loads(r.body)["type"], json.loads(r.body)["tool"]) for r in receiver.got]
    assert got == [("label", "fmt"), ("rollback", "fmt")]


def test_500_three_times_then_200_retries_on_schedule(vault: Vault) -> None:
    receiver = Receiver(script=[(500, {})] * 3)
    try:
        configure(vault, [f"http://127.0.0.1:{receiver.port}/"], schedule=[0.2, 0.4, 0.6], jitter=0)
        hook, _ = vault.add_hook(receiver.url)
        publish(vault, "fmt", 2)
        for _ in running(vault):
            assert receiver.wait_for(lambda got: len(got) >= 5)
        first, second = receiver.got[0].seq, receiver.got[4].seq
        assert [r.seq for r in receiver.got] == [first] * 4 + [second]  # nothing overtook it
        gaps = [b.at - a.at for a, b in zip(receiver.got[:3], receiver.got[1:4], strict=True)]
        assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.6, gaps
        assert len({r.id for r in receiver.got[:4]}) == 1  # one webhook-id for every attempt
        (done,) = [d for d in vault.hook_deliveries(hook.id) if d.seq == first]
        assert done.state == "delivered" and done.attempts == 4
        assert [a.status for a in done.tried] == [500, 500, 500, 200]
        assert [a.error for a in done.tried][:3] == ["HTTP 500 Internal Server Error"] * 3
        assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in done.tried)
        assert vault.hook_deliveries(hook.id, failed=True) == []
    finally:
        receiver.close()


def test_429_retry_after_is_honoured(sqlite_vault: Vault) -> None:
    receiver = Receiver(script=[(429, {"Retry-After": "1"})])
    vault = sqlite_vault
    try:
        configure(vault, [f"http://127.0.0.1:{receiver.port}/"], schedule=[0.01], jitter=0)
        vault.add_hook(receiver.url)
        publish(vault, "fmt", 1)
        for _ in running(vault):
            assert receiver.wait_for(lambda got: len(got) >= 2)
        assert receiver.got[1].at - receiver.got[0].at >= 1.0  # not the 0.01 s schedule
    finally:
        receiver.close()


def test_410_disables_and_redeliver_resumes(vault: Vault) -> None:
    receiver = Receiver(script=[(410, {})])
    try:
        configure(vault, [f"http://127.0.0.1:{receiver.port}/"], schedule=[0.01], jitter=0)
        hook, _ = vault.add_hook(receiver.url)
        publish(vault, "fmt", 3)
        Worker(vault).deliver_once()
        assert len(receiver.got) == 1
        (shown,) = vault.hooks()
        assert shown.state == "disabled" and "410" in (shown.disabled_reason or "")
        (failed,) = vault.hook_deliveries(hook.id, failed=True)
        assert failed.state == "failed" and failed.last_status == 410
        Worker(vault).deliver_once()
        assert len(receiver.got) == 1  # a disabled endpoint gets nothing
        vault.redeliver(failed.id)
        Worker(vault).deliver_once()
        assert [r.seq for r in receiver.got][1:] == [r.seq for r in receiver.got][:1] + [
            e.seq for e in vault.audit() if e.seq > receiver.got[0].seq
        ]
        assert vault.hooks()[0].state == "active"
    finally:
        receiver.close()


def test_a_schedule_run_out_disables_the_endpoint(sqlite_vault: Vault) -> None:
    receiver = Receiver(default=(503, {}))
    vault = sqlite_vault
    try:
        configure(vault, [f"http://127.0.0.1:{receiver.port}/"], schedule=[0.01, 0.01], jitter=0)
        hook, _ = vault.add_hook(receiver.url)
        publish(vault, "fmt", 2)
        for _ in running(vault):
            assert receiver.wait_for(lambda got: len(got) >= 3)
            assert eventually(lambda: vault.hooks()[0].state == "disabled")
        assert len({r.seq for r in receiver.got}) == 1  # the later event waits behind it
        assert "gave up" in (vault.hooks()[0].disabled_reason or "")
        (failed,) = vault.hook_deliveries(hook.id, failed=True)
        assert failed.attempts == 3 and [a.status for a in failed.tried] == [503] * 3
    finally:
        receiver.close()


def test_a_hanging_receiver_times_out_and_is_retried(sqlite_vault: Vault) -> None:
    receiver = Receiver(hang=3.0)
    vault = sqlite_vault
    try:
        configure(vault, [f"http://127.0.0.1:{receiver.port}/"], read_timeout=0.3, schedule=[0.05])
        hook, _ = vault.add_hook(receiver.url)
        publish(vault, "fmt", 1)
        for _ in running(vault):
            assert receiver.wait_for(lambda got: len(got) >= 2)
            assert eventually(lambda: vault.hook_deliveries(hook.id)[0].state == "delivered")
        (done,) = vault.hook_deliveries(hook.id)
        assert [a.error for a in done.tried] == ["timed out", None]
        assert done.tried[0].latency_ms is not None and done.tried[0].latency_ms < 2500
    finally:
        receiver.close()


def test_hook_deliver_once_from_the_cli(home: Path, receiver: Receiver) -> None:
    from click.testing import CliRunner

    from toolvault.cli import cli

    with Vault.open(home) as vault:
        configure(vault, [f"http://127.0.0.1:{receiver.port}/"])
        vault.add_hook(receiver.url)
        publish(vault, "fmt", 3)
    result = CliRunner().invoke(cli, ["--home", str(home), "hook", "deliver", "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["turns"] >= 1
    assert [json.loads(r.body)["tool"] for r in receiver.got] == ["fmt"] * 3


def test_settings_are_checked() -> None:
    from toolvault.errors import InvalidInput

    bad = [
        {"schedule": "5"},
        {"jitter": 1.5},
        {"read_timeout": 0},
        {"allow": ["ftp://x/"]},
        {"allow": ["not a url"]},
        {"nope": 1},
        {"workers": 0},
    ]
    for table in bad:
        with pytest.raises(InvalidInput, match=r"\[hooks\]"):
            HookSettings.load(table)
