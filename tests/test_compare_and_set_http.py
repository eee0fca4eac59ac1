"""Compare-and-set through the daemon (If-Match / If-None-Match, body fields, the remote
CLI) and under a race: 8 processes each read the latest and publish on it, 25 times, on
SQLite and on PostgreSQL through two daemons; no acknowledged publish is lost and every
version builds on exactly the version its publisher expected (SPEC §11)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import run_together
from test_server import Daemon, error, make_token
from toolvault import Vault
from toolvault.cli import cli

V1, V2, V3 = "echo one\n", "echo two\n", "echo three\n"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    """A daemon and alice's token."""
    home = tmp_path_factory.mktemp("cas") / "home"
    token = make_token(home, "alice")
    daemon = Daemon(home)
    yield daemon, token
    daemon.stop()


@pytest.fixture
def tool(served: tuple[Daemon, str], request: pytest.FixtureRequest) -> str:
    """A tool of this test's own with versions 1 (V1) and 2 (V2)."""
    daemon, token = served
    name = request.node.name.split("[")[0].removeprefix("test_")[:60].replace("_", "-")
    name += str(abs(hash(request.node.name)) % 10_000)
    for text in (V1, V2):
        assert daemon.publish(token, name, text).status_code == 200
    return name


def publish(
    served: tuple[Daemon, str], name: str, content: str, headers: dict[str, str], **fields: Any
) -> httpx.Response:
    daemon, token = served
    body = {"items": [{"name": name, "content": content, **fields}]}
    return daemon.call("POST", "/v1/publish", token, json=body, headers=headers)


def versions(served: tuple[Daemon, str], name: str) -> list[dict[str, Any]]:
    daemon, token = served
    listing: list[dict[str, Any]] = daemon.call("GET", f"/v1/tools/{name}/versions", token).json()
    return listing


# -- HTTP ---------------------------------------------------------------------------------


def test_if_match_publishes_on_the_latest_and_412_otherwise(
    served: tuple[Daemon, str], tool: str
) -> None:
    stale = publish(served, tool, V3, {"If-Match": f'"{sha(V1)}"'})
    message = error(stale, 412, "stale_base")
    details = stale.json()["error"]["details"]
    current = f"{tool}:2@sha256:{sha(V2)}"
    assert details["current"] == {"ref": current, "version": 2, "sha256": sha(V2)}
    assert details["tool"] == tool and sha(V1) in details["expected"]
    assert current in message and f"toolvault diff {tool}:1 {tool}:2" in message
    assert len(versions(served, tool)) == 2
    done = publish(served, tool, V3, {"If-Match": f'"{sha(V2).upper()}"'})
    assert done.status_code == 200, done.text
    ref = f"{tool}:3@sha256:{sha(V3)}"
    assert done.json() == [
        {"name": tool, "version": 3, "sha256": sha(V3), "created": True, "warnings": [], "ref": ref}
    ]
    assert versions(served, tool)[2]["previous_sha256"] == sha(V2)


def test_if_none_match_star_creates_only_a_new_tool(served: tuple[Daemon, str], tool: str) -> None:
    exists = publish(served, tool, V3, {"If-None-Match": "*"})
    error(exists, 412, "stale_base")
    assert exists.json()["error"]["details"]["current"]["version"] == 2
    fresh = publish(served, f"{tool}-new", V1, {"If-None-Match": "*"})
    assert fresh.status_code == 200 and fresh.json()[0]["version"] == 1


def test_body_fields_say_the_same(served: tuple[Daemon, str], tool: str) -> None:
    stale = publish(served, tool, V3, {}, expect_latest=f"{tool}:1")
    error(stale, 412, "stale_base")
    error(publish(served, tool, V3, {}, expect_new=True), 412, "stale_base")
    missing = publish(served, f"{tool}-none", V1, {}, expect_latest=f"{tool}-none:1")
    error(missing, 412, "stale_base")
    assert missing.json()["error"]["details"]["current"] is None
    done = publish(served, tool, V3, {}, expect_latest=f"{tool}:2@sha256:{sha(V2)}")
    assert done.status_code == 200 and done.json()[0]["version"] == 3


BAD_HEADERS = [
    {"If-Match": sha(V2)},  # not quoted
    {"If-Match": f'W/"{sha(V2)}"'},  # a weak ETag
    {"If-Match": f'"{sha(V2)[:12]}"'},  # a prefix
    {"If-Match": f'"{sha(V2)}", "{sha(V1)}"'},  # a list
    {"If-Match": "*"},
    {"If-Match": '"not-hex-at-all"'},
    {"If-None-Match": f'"{sha(V2)}"'},
    {"If-Match": f'"{sha(V2)}"', "If-None-Match": "*"},
]


@pytest.mark.parametrize("headers", BAD_HEADERS)
def test_malformed_conditional_headers_are_400(
    served: tuple[Daemon, str], tool: str, headers: dict[str, str]
) -> None:
    error(publish(served, tool, V3, headers), 400, "invalid_input")
    assert len(versions(served, tool)) == 2


@pytest.mark.parametrize(
    ("fields", "headers", "code"),
    [
        ({"expect_latest": "other:1"}, {}, "invalid_input"),
        ({"expect_latest": "x:"}, {}, "invalid_spec"),
        ({"expect_latest": "{tool}:2", "expect_new": True}, {}, "invalid_input"),
        ({"expect_new": "yes"}, {}, "invalid_input"),
        ({"expect_latest": 2}, {}, "invalid_input"),
        ({"expect_latest": "{tool}:2"}, {"If-Match": f'"{sha(V2)}"'}, "invalid_input"),
    ],
)
def test_bad_expectations_are_400(
    served: tuple[Daemon, str],
    tool: str,
    fields: dict[str, Any],
    headers: dict[str, str],
    code: str,
) -> None:
    fields = {k: v.format(tool=tool) if isinstance(v, str) else v for k, v in fields.items()}
    error(publish(served, tool, V3, headers, **fields), 400, code)
    assert len(versions(served, tool)) == 2


def test_a_conditional_header_needs_a_publish_of_one_item(
    served: tuple[Daemon, str], tool: str
) -> None:
    daemon, token = served
    items = [{"name": tool, "content": V3}, {"name": f"{tool}-b", "content": V1}]
    response = daemon.call(
        "POST", "/v1/publish", token, json={"items": items}, headers={"If-Match": f'"{sha(V2)}"'}
    )
    assert "one item" in error(response, 400, "invalid_input")


def test_a_ref_to_an_older_version_warns_in_the_response(
    served: tuple[Daemon, str], tool: str
) -> None:
    done = publish(served, tool, V3, {}, references=[f"{tool}:1"])
    assert done.status_code == 200
    assert "older version" in done.json()[0]["warnings"][0]


def test_openapi_documents_the_412(served: tuple[Daemon, str]) -> None:
    spec = served[0].call("GET", "/openapi.json").json()
    operation = spec["paths"]["/v1/publish"]["post"]
    assert "412" in operation["responses"]
    item = spec["components"]["schemas"]["PublishItem"]["properties"]
    assert {"expect_latest", "expect_new"} <= set(item)


# -- the remote CLI -----------------------------------------------------------------------


@pytest.fixture
def remote(
    served: tuple[Daemon, str], tool: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """TOOLVAULT_URL at the daemon; the file of the tool's next version."""
    monkeypatch.setenv("TOOLVAULT_URL", served[0].url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", served[1])
    path = tmp_path / f"{tool}.sh"
    path.write_text(V3)
    return path


def test_the_remote_cli_sends_the_expectation(
    served: tuple[Daemon, str], tool: str, remote: Path
) -> None:
    stale = CliRunner().invoke(cli, ["add", str(remote), "--expect-latest", f"{tool}:1"])
    assert stale.exit_code == 1, stale.output
    assert f"toolvault diff {tool}:1 {tool}:2" in stale.stderr
    exists = CliRunner().invoke(cli, ["add", str(remote), "--expect-new"])
    assert exists.exit_code == 1 and "exists already" in exists.stderr
    assert len(versions(served, tool)) == 2
    bad = CliRunner().invoke(cli, ["add", str(remote), "--expect-latest", "other:1"])
    assert bad.exit_code == 2
    done = CliRunner().invoke(
        cli, ["add", str(remote), "--expect-latest", f"{tool}:2", "--ref", f"{tool}:1", "--json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)[0]["version"] == 3
    assert "toolvault: warning:" in done.stderr and "older version" in done.stderr


# -- the race -----------------------------------------------------------------------------

WORKERS, ROUNDS = 8, 25

RACER = """
import json, sys
from toolvault.errors import StaleBase
from toolvault.vault import NewVersion
kind, where, token, worker, rounds = *sys.argv[1:4], int(sys.argv[4]), int(sys.argv[5])
if kind == "local":
    from toolvault import Vault
    vault = Vault.open(where)
else:
    from toolvault.client import RemoteVault
    vault = RemoteVault(where, token)
print("ready", flush=True)
sys.stdin.readline()
with vault:
    for i in range(rounds):
        base = vault.get("raced").ref
        item = NewVersion("raced", f"echo {worker} {i}\\n", expect_latest=base)
        try:
            done = vault.publish_many([item])[0]
        except StaleBase as exc:
            print(json.dumps({"base": base, "refused": exc.details}), flush=True)
        else:
            print(json.dumps({"base": base, "version": done.version, "sha256": done.sha256}))
"""


def race(argvs: list[list[str]]) -> list[dict[str, Any]]:
    """Run the racers; every line each printed."""
    outcomes = run_together(RACER, *argvs, timeout=120)
    assert [code for code, _, _ in outcomes] == [0] * WORKERS, outcomes
    assert all(err == "" for _, _, err in outcomes), [err for _, _, err in outcomes]
    lines = [json.loads(line) for _, out, _ in outcomes for line in out.splitlines()]
    assert len(lines) == WORKERS * ROUNDS
    return lines


def number(ref: str) -> int:
    """The version number of a pinned ref ``name:N@sha256:…``."""
    return int(ref.split("@")[0].split(":")[1])


def no_lost_update(lines: list[dict[str, Any]], chain: list[dict[str, Any]]) -> None:
    """Every acknowledged publish is in the chain, on the base it expected; every
    version after the first was acknowledged once; every refusal named a newer latest."""
    acked = [line for line in lines if "version" in line]
    refused = [line for line in lines if "refused" in line]
    assert len(acked) + len(refused) == WORKERS * ROUNDS
    assert [v["version"] for v in chain] == list(range(1, len(acked) + 2))
    by_number = {v["version"]: v for v in chain}
    for line in acked:
        stored = by_number[line["version"]]
        assert stored["sha256"] == line["sha256"]
        assert stored["previous_version"] == number(line["base"])
        assert stored["previous_sha256"] == line["base"].split("@sha256:")[1]
    assert sorted(line["version"] for line in acked) == list(range(2, len(acked) + 2))
    for line in refused:
        assert line["refused"]["expected"] == line["base"]
        assert line["refused"]["current"]["ref"] != line["base"]
        assert line["refused"]["current"]["version"] > number(line["base"])
    assert acked, "no publish got through"


def test_racing_publishers_on_sqlite_lose_no_update(home: Path) -> None:
    with Vault.open(home) as vault:
        vault.publish("raced", "echo start\n")
    lines = race([["local", str(home), "", str(n), str(ROUNDS)] for n in range(WORKERS)])
    with Vault.open(home) as vault:
        chain = [v.to_dict() for v in vault.versions("raced")]
        assert vault.verify().ok
    no_lost_update(lines, chain)


def test_racing_publishers_through_two_daemons_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "pg"
    token = make_token(home, "alice", db=pg_url)
    daemons = [Daemon(home, "--db", pg_url), Daemon(home, "--db", pg_url)]
    try:
        assert daemons[0].publish(token, "raced", "echo start\n").status_code == 200
        lines = race(
            [["remote", daemons[n % 2].url, token, str(n), str(ROUNDS)] for n in range(WORKERS)]
        )
        chain = daemons[1].call("GET", "/v1/tools/raced/versions", token).json()
        no_lost_update(lines, chain)
        assert daemons[0].call("GET", "/v1/verify", token).json()["ok"] is True
        assert all("500" not in line for d in daemons for line in d.lines)
    finally:
        for d in daemons:
            d.stop()
