"""Where webhooks may go (SPEC §15, issue 17): http(s) only, under [hooks] allow, and no
loopback, private, link-local or metadata address unless an allow entry names it,
checked on the resolved address at every attempt; no redirects. Names are resolved
by a patched resolver: no traffic leaves the machine. Also the management commands'
bad input, the secret shown once, admin only, audit and verify."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import raw
from hookrecv import Receiver
from test_hook_delivery import configure
from toolvault import Vault
from toolvault.cli import cli
from toolvault.errors import InvalidInput, PermissionDenied
from toolvault.events import policy
from toolvault.events.worker import Worker
from toolvault.models import Principal


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def resolving(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> list[str]:
    """Patch the resolver: ``names`` only; returns the names looked up."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in names:
            raise policy.Refused(f"cannot resolve {host}")
        return names[host]

    monkeypatch.setattr(policy, "resolve", resolve)
    return asked


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://192.168.1.10/x",
        "http://100.64.0.1/x",
        "http://[fd00:ec2::254]/x",
    ],
)
def test_private_literals_are_refused_unless_named(url: str) -> None:
    target = policy.parse_target(url)
    wide = policy.parse_allow([url.split("/x")[0].split("/latest")[0] + "/", "https://ok.test/"])
    assert policy.vet(target, wide)  # the URL entry names the address itself: allowed
    # a network entry that does not hold it, and a wildcard: not named
    narrow = policy.parse_allow(["http://*.example.test/", "203.0.113.0/24"])
    with pytest.raises(policy.Refused, match="allow"):
        policy.vet(target, narrow)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::1", "172.16.0.1", "fe80::1"]
)
def test_a_name_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    asked = resolving(monkeypatch, {"hooks.example.test": [address]})
    target = policy.parse_target("https://hooks.example.test/in")
    allow = policy.parse_allow(["https://hooks.example.test/"])
    with pytest.raises(policy.Refused, match="non-public"):
        policy.vet(target, allow)
    assert asked == ["hooks.example.test"]
    named = policy.parse_allow(["https://hooks.example.test/", address])
    assert policy.vet(target, named) == address  # named outright: allowed
    # one public address and one private: refused (the one connected to is not chosen
    # by the resolver's order)
    resolving(monkeypatch, {"hooks.example.test": ["93.184.216.34", address]})
    with pytest.raises(policy.Refused):
        policy.vet(target, allow)


def test_the_worker_refuses_and_records_without_traffic(
    sqlite_vault: Vault, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = sqlite_vault
    resolving(monkeypatch, {"hooks.example.test": ["127.0.0.1"]})
    url = f"http://hooks.example.test:{receiver.port}/in"
    configure(vault, [f"http://hooks.example.test:{receiver.port}/"], schedule=[60])
    hook, _ = vault.add_hook(url)
    vault.publish("fmt", "echo 1\n")
    Worker(vault).deliver_once()
    assert receiver.got == []  # 127.0.0.1 is where the name led: never connected to
    (pending,) = vault.hook_deliveries(hook.id)
    assert pending.state == "pending" and pending.last_status is None
    assert "refused" in (pending.last_error or "") and "127.0.0.1" in (pending.last_error or "")
    # the allow list names 127.0.0.1 now: delivered, to the address checked, Host kept
    configure(vault, [f"http://hooks.example.test:{receiver.port}/", "127.0.0.1/32"])
    vault.redeliver(pending.id)
    Worker(vault).deliver_once()
    assert [r.headers["Host"] for r in receiver.got] == [f"hooks.example.test:{receiver.port}"]


def test_a_redirect_to_loopback_is_not_followed(sqlite_vault: Vault) -> None:
    inner = Receiver()
    outer = Receiver(default=(302, {"Location": f"http://127.0.0.1:{inner.port}/steal"}))
    vault = sqlite_vault
    try:
        configure(vault, [f"http://127.0.0.1:{outer.port}/"], schedule=[60])
        hook, _ = vault.add_hook(outer.url)
        vault.publish("fmt", "echo 1\n")
        Worker(vault).deliver_once()
        assert len(outer.got) == 1 and inner.got == []
        (d,) = vault.hook_deliveries(hook.id)
        assert d.last_status == 302 and "not followed" in (d.last_error or "")
        assert d.state == "pending"
    finally:
        inner.close()
        outer.close()


def test_a_big_answer_is_read_up_to_the_cap(sqlite_vault: Vault) -> None:
    vault = sqlite_vault
    import http.server
    import threading

    class Big(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
            for _ in range(50):
                try:
                    self.wfile.write(b"x" * 1024 * 1024)
                except OSError:
                    return

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Big)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        configure(vault, [f"http://127.0.0.1:{port}/"], max_response_bytes=1024)
        hook, _ = vault.add_hook(f"http://127.0.0.1:{port}/")
        vault.publish("fmt", "echo 1\n")
        Worker(vault).deliver_once()
        (d,) = vault.hook_deliveries(hook.id)
        assert d.state == "delivered" and d.tried[0].latency_ms is not None
        assert d.tried[0].latency_ms < 5000
    finally:
        server.shutdown()
        server.server_close()


def cli_json(home: Path, *args: str) -> tuple[int, dict[str, object] | list[object] | None, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args, "--json"])
    out = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, out, result.stderr


def test_hook_commands_and_their_bad_input(home: Path, receiver: Receiver) -> None:
    with Vault.open(home) as vault:
        configure(vault, [f"http://127.0.0.1:{receiver.port}/"])
        before = len(vault.audit())
    ok = f"http://127.0.0.1:{receiver.port}/in"
    bad = [
        (["hook", "add", "ftp://127.0.0.1/x"], "only http and https"),
        (["hook", "add", "file:///etc/passwd"], "only http and https"),
        (["hook", "add", "http://user:pw@127.0.0.1/x"], "no user or password"),
        (["hook", "add", "http://127.0.0.2/x"], "not under any entry"),
        (["hook", "add", "http://10.0.0.1/x"], "not under any entry"),
        (["hook", "add", f"http://127.0.0.1:{receiver.port}x/"], "invalid port"),
        (["hook", "add", ok, "--event", "explode"], "unknown event"),
        (["hook", "add", ok, "--tool", "../etc"], "invalid"),
        (["hook", "add", ok, "--secret", "s3cret"], "whsec_"),
        (["hook", "add", ok, "--secret", "whsec_AAAA"], "24 to 64"),
        (["hook", "add", ok, "--secret", "whsec_!!!"], "base64"),
        (["hook", "add", ok, "--sign", "nokey", "--secret", "whsec_" + "A" * 32], "not both"),
        (["hook", "remove", "../x"], "invalid webhook id"),
        (["hook", "redeliver", "nope"], "msg_HOOKID_SEQ"),
        (["watch", "--event", "explode"], "unknown event"),
    ]
    for args, says in bad:
        code, _out, err = cli_json(home, *args)
        assert code == 2, (args, err)
        assert says in json.loads(err)["error"]["message"], (args, err)
    code, _, err = cli_json(home, "hook", "add", ok, "--sign", "nokey")
    assert code == 1 and "no signing key" in err
    with Vault.open(home) as vault:
        assert vault.hooks() == [] and len(vault.audit()) == before  # nothing written
    code, made, _ = cli_json(home, "hook", "add", ok, "--event", "publish", "--tool", "fmt")
    assert code == 0 and isinstance(made, dict)
    secret = made["secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_")
    code, listed, _ = cli_json(home, "hook", "list")
    assert listed == [{k: v for k, v in made.items() if k != "secret"}]
    assert secret not in json.dumps(listed)
    code, _, err = cli_json(home, "hook", "remove", "abcdef123456")
    assert code == 1 and str(made["id"]) in err
    code, _gone, _ = cli_json(home, "hook", "remove", str(made["id"]))
    assert code == 0
    with Vault.open(home) as vault:
        actions = [e.action for e in vault.audit()][-2:]
        assert actions == ["hook-add", "hook-remove"]
        assert secret not in json.dumps([e.details for e in vault.audit()])
        assert vault.verify().ok


def test_verify_holds_the_hooks_table_to_the_audit_log(vault: Vault, receiver: Receiver) -> None:
    configure(vault, [f"http://127.0.0.1:{receiver.port}/"])
    hook, _ = vault.add_hook(receiver.url, ["publish"])
    assert vault.verify().ok
    raw(vault, "UPDATE hooks SET url = 'http://127.0.0.1:1/evil' WHERE id = ?", (hook.id,))
    problems = [p for p in vault.verify().problems if p.kind == "hook"]
    assert len(problems) == 1 and "evil" in problems[0].detail
    raw(vault, "DELETE FROM hooks WHERE id = ?", (hook.id,))
    assert [p.kind for p in vault.verify().problems] == ["hook"]


def test_only_admins_manage_hooks(vault: Vault, receiver: Receiver) -> None:
    configure(vault, [f"http://127.0.0.1:{receiver.port}/"])
    bob = vault.as_principal(Principal("bob", admin=False))
    root = vault.as_principal(Principal("root", admin=True))
    for call in (
        lambda: bob.add_hook(receiver.url),
        bob.hooks,
        lambda: bob.hook_deliveries(),
    ):
        with pytest.raises(PermissionDenied, match="admin"):
            call()
    made, _ = root.add_hook(receiver.url)
    with pytest.raises(PermissionDenied):
        bob.remove_hook(made.id)
    with pytest.raises(InvalidInput):
        root.add_hook("gopher://127.0.0.1/")


def test_watch_of_a_daemon_that_is_not_there_says_so(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLVAULT_URL", "http://127.0.0.1:1")
    result = CliRunner().invoke(cli, ["--home", str(home), "watch", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "unreachable"
