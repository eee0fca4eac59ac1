"""Webhooks and events through the daemon (SPEC §15, issue 17): the admin endpoints and
the remote CLI, the live stream resumed with Last-Event-ID, a daemon SIGKILLed in the
middle of delivering, and two daemons on one PostgreSQL delivering each event once."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from hookrecv import Receiver
from test_hook_delivery import eventually
from test_server import Daemon, error, make_token
from toolvault import Vault
from toolvault.cli import cli


def config(home: Path, receiver: Receiver, **more: Any) -> None:
    home.mkdir(parents=True, exist_ok=True)
    lines = [f'allow = ["http://127.0.0.1:{receiver.port}/"]', "poll = 0.2"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in more.items()]
    (home / "config.toml").write_text("[hooks]\n" + "\n".join(lines) + "\n")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def publish(d: Daemon, token: str, name: str, n: int) -> None:
    for i in range(n):
        r = d.publish(token, name, f"#!/bin/sh\necho {name} {i}\n")
        assert r.status_code == 200, r.text


def test_admin_endpoints_and_the_remote_cli(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    config(home, receiver)
    root, bob = make_token(home, "root", "--admin"), make_token(home, "bob")
    ro = make_token(home, "ro", "--read-only")
    d = Daemon(home)
    try:
        before = d.call("GET", "/v1/audit", root).json()
        routes = [
            ("POST", "/v1/hooks", {"url": receiver.url}),
            ("GET", "/v1/hooks", None),
            ("GET", "/v1/hooks/0a1b2c3d4e5f", None),
            ("DELETE", "/v1/hooks/0a1b2c3d4e5f", None),
            ("GET", "/v1/deliveries", None),
            ("POST", "/v1/deliveries/msg_0a1b2c3d4e5f_1/redeliver", None),
        ]
        for method, path, body in routes:  # every webhook route is the admins' alone
            for token, status, code in ((bob, 403, "forbidden"), (ro, 403, "forbidden")):
                error(d.call(method, path, token, json=body), status, code)
            error(d.call(method, path, None, json=body), 401, "unauthorized")
        assert d.call("GET", "/v1/audit", root).json() == before  # nothing written
        r = d.call("POST", "/v1/hooks", bob, json={"url": receiver.url})
        error(r, 403, "forbidden")
        error(d.call("GET", "/v1/hooks", bob), 403, "forbidden")
        error(d.call("GET", "/v1/hooks", None), 401, "unauthorized")
        error(
            d.call("POST", "/v1/hooks", root, json={"url": "http://10.0.0.1/"}),
            400,
            "invalid_input",
        )
        error(d.call("GET", "/v1/hooks?x=1", root), 400, "invalid_input")
        made = d.call("POST", "/v1/hooks", root, json={"url": receiver.url, "events": ["publish"]})
        assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
        secret = made.json()["secret"]
        for path in ("/v1/hooks", f"/v1/hooks/{made.json()['id']}", "/v1/deliveries"):
            assert secret not in d.call("GET", path, root).text
        publish(d, bob, "fmt", 2)
        assert receiver.wait_for(lambda got: len(got) == 2)  # the worker inside serve
        monkeypatch.setenv("TOOLVAULT_URL", d.url)
        monkeypatch.setenv("TOOLVAULT_TOKEN", root)

        def tv(*args: str) -> Any:
            result = CliRunner().invoke(cli, [*args, "--json"])
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        (listed,) = tv("hook", "list")
        assert listed["id"] == made.json()["id"] and "secret" not in listed
        assert eventually(lambda: len(tv("hook", "deliveries", listed["id"])) == 2)
        shown = tv("hook", "deliveries", listed["id"])
        assert {x["state"] for x in shown} == {"delivered"}
        again = tv("hook", "redeliver", shown[0]["id"])
        assert again["state"] == "pending"
        assert receiver.wait_for(lambda got: len(got) == 3)
        assert receiver.got[2].id == shown[0]["id"]  # the same webhook-id
        other = tv("hook", "add", receiver.url, "--tool", "fmt")
        assert other["secret"].startswith("whsec_")
        assert tv("hook", "remove", other["id"])["removed"] is True
        result = CliRunner().invoke(cli, ["hook", "deliver", "--once"])
        assert result.exit_code == 2 and "TOOLVAULT_URL" in result.output
        result = CliRunner().invoke(cli, ["watch", "--after", "0", "--count", "3", "--json"])
        lines = [json.loads(x) for x in result.stdout.splitlines()]  # one event per line
        assert [e["seq"] for e in lines] == [1, 2, 3], result.output
    finally:
        d.stop()


def sse(
    d: Daemon, token: str, headers: dict[str, str], params: dict[str, Any], n: int
) -> list[dict[str, Any]]:
    """Read ``n`` events from the stream, then drop the connection."""
    got: list[dict[str, Any]] = []
    hdrs = {"Authorization": f"Bearer {token}", **headers}
    with httpx.stream("GET", f"{d.url}/v1/events", headers=hdrs, params=params, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in r.iter_lines():
            if line.startswith(("id:", "data:", "event:")):
                key, _, value = line.partition(":")
                event[key] = value.strip()
            elif not line and "data" in event:
                data = json.loads(event["data"])
                assert int(event["id"]) == data["seq"] and event["event"] == data["type"]
                got.append(data)
                event = {}
                if len(got) == n:
                    break
    return got


def test_the_stream_resumes_with_last_event_id(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "home"
    config(home, receiver)
    alice = make_token(home, "alice")
    d = Daemon(home)
    try:
        publish(d, alice, "fmt", 4)
        first = sse(d, alice, {}, {"after": 0}, 3)
        publish(d, alice, "lint", 3)  # while no one listens
        with Vault.open(home) as vault:
            audit = [e.seq for e in vault.audit()]
            ref = vault.get("lint:3").ref
        headers = {"Last-Event-ID": str(first[-1]["seq"])}  # takes precedence over after
        rest = sse(d, alice, headers, {"after": 0}, len(audit) - 3)
        seqs = [e["seq"] for e in first + rest]
        assert seqs == audit  # nothing missed, nothing twice
        assert rest[-1]["ref"] == ref
        only = sse(d, alice, {}, {"after": 0, "tool": "lint"}, 3)
        assert [e["tool"] for e in only] == ["lint"] * 3
        error(d.call("GET", "/v1/events", alice, params={"event": "nope"}), 400, "invalid_input")
        error(
            d.call("GET", "/v1/events", alice, headers={"Last-Event-ID": "x"}), 400, "invalid_input"
        )
        error(d.call("GET", "/v1/events"), 401, "unauthorized")
    finally:
        d.stop()


def test_sigkill_mid_delivery_loses_nothing(tmp_path: Path) -> None:
    receiver = Receiver(delay=0.01)
    home = tmp_path / "home"
    config(home, receiver, lease=1.0, batch=10)
    root = make_token(home, "root", "--admin")
    try:
        d = Daemon(home)
        made = d.call("POST", "/v1/hooks", root, json={"url": receiver.url}).json()
        publish(d, root, "fmt", 40)
        assert receiver.wait_for(lambda got: len(got) >= 12)
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait(timeout=10)
        d.stop()
        d = Daemon(home)  # goes on where the record says, once the lease ran out
        with Vault.open(home) as vault:
            wanted = [e.seq for e in vault.audit() if e.seq > made["delivered_through"]]
        assert receiver.wait_for(lambda got: {r.seq for r in got} >= set(wanted), 60)
        firsts: list[int] = []
        for r in receiver.got:
            if r.seq not in firsts:
                firsts.append(r.seq)
        assert firsts == wanted  # in order, none missing (repeats allowed: at least once)
        assert all(r.id == f"msg_{made['id']}_{r.seq}" for r in receiver.got)
        d.stop()
    finally:
        receiver.close()


def test_two_daemons_on_one_postgresql_deliver_each_event_once(
    tmp_path: Path, pg_url: str, receiver: Receiver
) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    for h in homes:
        config(h, receiver)
    root = make_token(homes[0], "root", "--admin", db=pg_url)
    shutil.copytree(homes[0] / "keys", homes[1] / "keys")  # one vault key seals for both
    daemons = [Daemon(h, "--db", pg_url) for h in homes]
    try:
        made = [
            daemons[0]
            .call(
                "POST", "/v1/hooks", root, json={"url": f"{receiver.url}{i}", "events": ["publish"]}
            )
            .json()
            for i in range(3)
        ]
        for i in range(30):
            r = daemons[i % 2].publish(root, f"t{i % 3}", f"echo {i}\n")
            assert r.status_code == 200, r.text
        assert receiver.wait_for(lambda got: len(got) >= 90, 60)
        assert not receiver.wait_for(lambda got: len(got) > 90, 1.0)  # and no more
        ids = [r.id for r in receiver.got]
        assert len(ids) == len(set(ids)) == 90
        for hook in made:
            seqs = [r.seq for r in receiver.got if r.id.startswith(f"msg_{hook['id']}_")]
            assert seqs == sorted(seqs) and len(seqs) == 30
    finally:
        for d in daemons:
            d.stop()
