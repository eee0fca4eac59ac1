"""The daemon against its own OpenAPI description, with schemathesis.

A real ``toolvault serve`` on 127.0.0.1 (port 0, as in test_server.py) serves
``/openapi.json``, over a vault holding ``fmt:1`` and ``fmt:2`` (the description's
examples name them, so success responses are reached too). Schemathesis' engine,
the one its command line runs, tests every operation in its examples, coverage
(boundary and invalid values, missing parameters) and fuzzing phases: once with
an admin token, so that the write endpoints really write and refuse what they
must, and once with no token, so that every 401 path is checked as well.

Every response must be no 5xx (not_a_server_error), have a status code the
operation declares (status_code_conformance), a declared content type
(content_type_conformance) and a body matching the declared schema
(response_schema_conformance). Other checks (such as whether invalid input is
refused) are for the other tests. The stateful phase (chains of requests) is off
to keep the run short.

Bounded: MAX_EXAMPLES per operation in the fuzzing phase, a fixed seed,
deterministic generation, no example database: about ten seconds in all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

try:
    import schemathesis
except ImportError:
    # Skipped on a machine without it, never in CI, where a skip would hide the check.
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs schemathesis: install the test extra ('make test' does)")
    pytest.skip("schemathesis is not installed (pip install '.[test]')", allow_module_level=True)

from schemathesis.engine import events, from_schema

from test_server import FMT1, FMT2, Daemon, make_token

MAX_EXAMPLES = 10
SEED = 5
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    """A daemon over a vault holding fmt:1 and fmt:2, and an admin token for it."""
    home = tmp_path_factory.mktemp("openapi") / "home"
    token = make_token(home, "root", "--admin")
    daemon = Daemon(home)
    try:
        for text in (FMT1, FMT2):
            assert daemon.publish(token, "fmt", text).status_code == 200
        yield daemon, token
    finally:
        daemon.stop()


def run(url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """One bounded schemathesis run: how many checks ran, and every failure."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": headers,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    checked, failures = 0, []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for nodes in event.recorder.checks.values():
                checked += len(nodes)
                failures += [_failure(event, node) for node in nodes if node.failure_info]
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"schemathesis could not run: {event!r}")
    return checked, failures


def _failure(event: Any, node: Any) -> str:
    info = node.failure_info
    where = f"{event.phase} {event.recorder.label}"
    return f"{where}: {node.name}: {info.failure.title}\n{info.failure.message}\n{info.code_sample}"


@pytest.mark.parametrize("who", ["admin", "anonymous"])
def test_every_response_matches_the_description(served: tuple[Daemon, str], who: str) -> None:
    daemon, token = served
    headers = {"Authorization": f"Bearer {token}"} if who == "admin" else {}
    checked, failures = run(daemon.url, headers)
    assert not failures, "\n\n".join(failures)
    assert checked > 500  # every operation was reached, many times
