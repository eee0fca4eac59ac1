"""The daemon's HTTP API against input a hostile or careless client sends: each is
answered 400 with the one error shape and writes nothing (SPEC §9, §11)."""

from __future__ import annotations

from typing import Any

import pytest

from test_server import Daemon, error

DAEMON_TOOLS = [  # published by conftest's daemon
    ("hfmt", "#!/bin/sh\necho one\n", {}),
    ("hfmt", "#!/bin/sh\necho two\n", {}),
]


def versions(daemon: Daemon, token: str) -> int:
    found: list[Any] = daemon.call("GET", "/v1/tools/hfmt/versions", token).json()
    return len(found)


@pytest.mark.parametrize("version", [True, False, 1.0])
def test_a_rollback_version_that_is_no_number_nor_selector_is_refused(
    daemon: Daemon, token: str, version: Any
) -> None:
    """JSON true is not version 1 (nor 1.0): a number is a JSON integer."""
    before = versions(daemon, token)
    answer = daemon.call("POST", "/v1/tools/hfmt/rollback", token, json={"version": version})
    assert "version" in error(answer, 400, "invalid_input")
    assert versions(daemon, token) == before


@pytest.mark.parametrize("lines", [True, 2.0, "3"])
def test_a_diff_context_that_is_no_integer_is_refused(
    daemon: Daemon, token: str, lines: Any
) -> None:
    body = {"old": "hfmt:1", "content": "echo three\n", "context": lines}
    answer = daemon.call("POST", "/v1/diff", token, json=body)
    assert "context" in error(answer, 400, "invalid_input")
