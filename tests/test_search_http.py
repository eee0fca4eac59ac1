"""Search over HTTP (``GET /v1/search``) on a real daemon, and ``toolvault search``
through it (``TOOLVAULT_URL``): results, options, and bad queries answered 400 / exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from test_server import Daemon, error
from toolvault.cli import cli

DAEMON_TOOLS = [  # published by conftest's daemon
    ("csv-summary", "#!/bin/sh\n# summarise csv columns\nread_csv_rows\n", {"prompt": "csv stats"}),
    ("git-prune", "#!/bin/sh\n# delete merged branches\n", {"prompt": "prune branches"}),
]


def test_get_search(daemon: Daemon, token: str) -> None:
    found = daemon.call("GET", "/v1/search", token, params={"q": "csv"})
    assert found.status_code == 200, found.text
    data = found.json()
    assert [(r["name"], r["field"]) for r in data] == [("csv-summary", "name")]
    assert data[0]["ref"].startswith("csv-summary:1@sha256:")
    content = daemon.call(
        "GET", "/v1/search", token, params={"q": "csv_row", "field": "content", "limit": 1}
    )
    assert content.json()[0]["snippet"].endswith("read_**csv_row**s")


BAD = [
    {"q": '"csv'},
    {"q": "foo:bar"},
    {"q": "ab"},
    {"q": ""},
    {},
    {"q": "csv", "limit": "0"},
    {"q": "csv", "limit": "many"},
    {"q": "csv", "field": "author"},
    {"q": "csv", "lifecycle": "gone"},
]


@pytest.mark.parametrize("params", BAD, ids=[json.dumps(p) for p in BAD])
def test_bad_searches_are_400(daemon: Daemon, token: str, params: dict[str, str]) -> None:
    answer = daemon.call("GET", "/v1/search", token, params=params)
    assert answer.status_code == 400, answer.text
    assert "\n" not in answer.json()["error"]["message"]


def test_unknown_query_error_says_what_works(daemon: Daemon, token: str) -> None:
    answer = daemon.call("GET", "/v1/search", token, params={"q": "foo:bar"})
    assert "unknown qualifier 'foo:'" in error(answer, 400, "invalid_input")


def test_the_remote_command_line(
    daemon: Daemon, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", token)
    result = CliRunner().invoke(cli, ["search", "branches", "--json"])
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in json.loads(result.stdout)] == ["git-prune"]
    bad = CliRunner().invoke(cli, ["search", '"branches'])
    assert bad.exit_code == 2 and bad.output.startswith("toolvault: error: ")
    assert "unbalanced quote" in bad.output
