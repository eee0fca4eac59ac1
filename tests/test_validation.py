"""Every bad input refused at the door (issue 11, items 9, 14 and 15).

One set of rules (toolvault.validate) holds for the library, the CLI, the daemon over
real HTTP, packs and legacy imports: control characters, empty owners and authors,
oversized texts, times that are not RFC 3339, an ``executable`` that is no boolean.
Every refusal is a ToolvaultError (exit 2 / HTTP 400) and leaves the database as it was.
Library calls with arguments of the wrong type say what would work instead of raising
TypeError, and four failures that used to be ``internal error: …`` have a clean message.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import dump as db_dump
from test_cli import assert_one_line_error, dump, js, ok, tv, write
from test_legacy import Port42
from test_packs import at, manifest, rebuild
from test_server import Daemon, make_token
from toolvault import InvalidInput, NewVersion, ToolvaultError, Vault, fetch_tool, validate
from toolvault.spec import format_spec, parse

SCRIPT = "#!/bin/sh\necho hi\n"
# Refused in every field, one-line or not: C0 (ESC and a whole escape sequence among
# them), DEL and C1 (U+0085 is NEL, U+009B the one-character CSI).
CONTROL = ["\x00", "\x07", "\x08", "\x1b", "\x1b[2J", "\r", "\x0b", "\x7f", "\x85", "\x9b"]
# Refused in one-line fields only.
BREAKS = ["\n", "\t"]
ONE_LINE = ("owner", "created_by", "origin", "session_id")
MULTI_LINE = ("prompt", "message")
BAD_TIMES = [
    "yesterday",
    "",
    "2024-01-02",
    "2024-01-02T03:04:05",  # no offset: not RFC 3339
    "2024-13-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-01-02T25:00:00Z",
    "2024-01-02T03:04:60Z",
    "2024-01-02T03:04:05+24:00",
    "2024-01-02T03:04:05+0100",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "2024-01-02T03:04:05Z\n",
    "٢٠٢٤-01-02T03:04:05Z",  # other digits than 0-9
    "20240102T030405Z",
]
GOOD_TIMES = {
    "2024-01-02T03:04:05Z": "2024-01-02T03:04:05.000000Z",
    "2024-01-02T03:04:05+01:00": "2024-01-02T02:04:05.000000Z",
    "2024-01-02t03:04:05.123456789z": "2024-01-02T03:04:05.123456Z",
    "2024-01-01T23:30:00-01:30": "2024-01-02T01:00:00.000000Z",
    "2024-01-02 03:04:05.5-00:00": "2024-01-02T03:04:05.500000Z",
    "0999-12-31T23:59:59Z": "0999-12-31T23:59:59.000000Z",
}


def bad_fields() -> list[tuple[str, Any]]:
    """(field, value) of every control character in every publish field it is refused in."""
    cases: list[tuple[str, Any]] = []
    for name in ONE_LINE + MULTI_LINE:
        breaks = BREAKS if name in ONE_LINE else []
        cases += [(name, f"a{ch}b") for ch in CONTROL + breaks]
    for name in ("references", "transforms"):
        cases += [(name, [f"a{ch}b"]) for ch in CONTROL + BREAKS]
    return cases


BAD_FIELDS = bad_fields()
EMPTY = [("owner", ""), ("owner", "   "), ("created_by", ""), ("created_by", "\t")]
TOO_BIG = [
    ("owner", "o" * 257),
    ("created_by", "é" * 257),
    ("session_id", "s" * 257),
    ("message", "m" * (64 * 1024 + 1)),
    ("message", "é" * (32 * 1024 + 1)),  # 64 KiB + 2 bytes of UTF-8
    ("prompt", "p" * (1024 * 1024 + 1)),
]
AT_THE_LIMIT = {
    "owner": "o" * 256,
    "created_by": "é" * 256,
    "message": "m\n\t" * (64 * 1024 // 3),
    "prompt": "p" * 1024 * 1024,
}
NOT_BOOLEAN = ["yes", "no", "true", "false", 1, 0, "", [True]]


def refused(action: Callable[[], object], *words: str) -> str:
    """Run ``action``; it must raise InvalidInput whose message holds ``words``."""
    with pytest.raises(InvalidInput) as caught:
        action()
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


@pytest.fixture
def seeded(vault: Vault) -> Vault:
    """A vault with t:1 and t:2 (t:2 signed, labelled and the latest)."""
    vault.publish("t", SCRIPT)
    vault.generate_key("k")
    vault.publish_many([NewVersion("t", SCRIPT + "# 2\n")], sign_with="k")
    vault.label("t:1", "stable")
    return vault


# -- the rules themselves -------------------------------------------------------------------

RULES = [validate.OWNER, validate.CREATED_BY, validate.ORIGIN, validate.SESSION_ID]
RULES += [validate.PROMPT, validate.MESSAGE, validate.REASON, validate.TRANSFORM]
BAD_CHAR = st.sampled_from(
    [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\t\n"]
)
PRINTABLE = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)


@given(rule=st.sampled_from(RULES), before=PRINTABLE, bad=BAD_CHAR, after=PRINTABLE)
def test_any_control_character_anywhere_is_refused_by_every_rule(
    rule: validate.Rule, before: str, bad: str, after: str
) -> None:
    message = refused(lambda: validate.text(rule, f"{before}x{bad}{after}"), rule.field)
    assert "control character" in message and bad not in message  # never echoed


@given(rule=st.sampled_from(RULES), value=PRINTABLE.filter(lambda s: s.strip()))
def test_printable_text_within_the_limits_passes_every_rule(
    rule: validate.Rule, value: str
) -> None:
    assert validate.text(rule, value) == value


OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(datetime(2, 1, 1), datetime(9998, 12, 31), timezones=OFFSETS))
def test_every_aware_time_normalises_to_the_same_instant_in_utc(when: datetime) -> None:
    stored = validate.timestamp(when.isoformat())
    assert stored.endswith("Z") and len(stored) == len("2024-01-02T03:04:05.000000Z")
    assert validate.timestamp(stored) == stored  # normalising twice changes nothing
    assert datetime.fromisoformat(stored) == when


# -- the library: every field, nothing written --------------------------------------------

FIELDS = st.sampled_from(ONE_LINE + MULTI_LINE + ("references", "transforms"))
DIRTY = st.builds(lambda a, c, b: f"{a}{c}{b}", PRINTABLE, BAD_CHAR, PRINTABLE)


def as_field(name: str, dirty: str) -> Any:
    return [dirty] if name in ("references", "transforms") else dirty


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=FIELDS, dirty=DIRTY)
def test_any_dirty_text_in_any_field_is_refused_by_the_library(
    sqlite_vault: Vault, name: str, dirty: str
) -> None:
    if not sqlite_vault.tools():
        sqlite_vault.publish("t", SCRIPT)
    before = db_dump(sqlite_vault)
    refused(partial(sqlite_vault.publish, "t", "echo new\n", **{name: as_field(name, dirty)}))
    assert db_dump(sqlite_vault) == before


def test_every_publish_field_refuses_control_characters(vault: Vault) -> None:
    vault.publish("t", SCRIPT)
    before = db_dump(vault)
    for name, value in BAD_FIELDS:
        message = refused(partial(vault.publish, "t", "echo new\n", **{name: value}))
        assert name.rstrip("s") in message and "control character" in message, (name, value)
    assert db_dump(vault) == before


@pytest.mark.parametrize(("name", "value"), EMPTY + TOO_BIG)
def test_empty_authors_and_oversized_texts_are_refused(vault: Vault, name: str, value: str) -> None:
    vault.publish("t", SCRIPT)
    before = db_dump(vault)
    refused(lambda: vault.publish("t", "echo new\n", **{name: value}), name)
    assert db_dump(vault) == before


def test_texts_at_the_limits_are_kept(vault: Vault) -> None:
    vault.publish("t", SCRIPT, **AT_THE_LIMIT)
    stored = vault.get("t")
    assert (stored.owner, stored.created_by) == (AT_THE_LIMIT["owner"], AT_THE_LIMIT["created_by"])
    assert (stored.message, stored.prompt) == (AT_THE_LIMIT["message"], AT_THE_LIMIT["prompt"])


@pytest.mark.parametrize("when", BAD_TIMES)
def test_created_at_must_be_an_rfc3339_time(vault: Vault, when: str) -> None:
    vault.publish("t", SCRIPT)
    before = db_dump(vault)
    refused(lambda: vault.publish("t", "echo new\n", created_at=when), "created_at", "RFC 3339")
    assert db_dump(vault) == before


def test_created_at_is_stored_in_utc_and_a_signature_over_it_verifies(vault: Vault) -> None:
    vault.generate_key("k")
    items = [NewVersion("t", f"echo {i}\n", created_at=w) for i, w in enumerate(GOOD_TIMES)]
    vault.publish_many(items, sign_with="k")
    stored = [v.created_at for v in vault.versions("t")]
    assert stored == list(GOOD_TIMES.values())
    assert all(vault.signature_status(v).startswith("valid") for v in vault.versions("t"))
    assert vault.verify().ok


@pytest.mark.parametrize("value", NOT_BOOLEAN, ids=repr)
def test_executable_must_be_a_boolean(vault: Vault, value: object) -> None:
    refused(lambda: vault.publish("t", "echo\n", executable=value), "executable", "bool")
    assert vault.tools() == []
    vault.publish("t", "echo\n", executable=False)
    assert vault.get("t").executable is False


GOVERNANCE: list[tuple[str, Callable[[Vault, str], object]]] = [
    ("owner", lambda v, s: v.transfer("t", s)),
    ("reason", lambda v, s: v.yank("t:1", s)),
    ("message", lambda v, s: v.set_lifecycle("t", "deprecated", s)),
    ("message", lambda v, s: v.set_lifecycle("t", "retired", s)),
    ("message", lambda v, s: v.rollback("t", 1, message=s)),
    ("principal", lambda v, s: v.create_token(s)),
]


@pytest.mark.parametrize(("field", "write_with"), GOVERNANCE)
def test_governance_writes_refuse_control_characters(
    seeded: Vault, field: str, write_with: Callable[[Vault, str], object]
) -> None:
    before = db_dump(seeded)
    one_line = field in ("owner", "principal")
    for ch in CONTROL + (BREAKS if one_line else []):
        refused(partial(write_with, seeded, f"x{ch}y"), field, "control character")
    too_long = {"owner": 257, "principal": 257, "reason": 65_537, "message": 65_537}[field]
    refused(lambda: write_with(seeded, "z" * too_long), field)
    if field != "message":
        refused(lambda: write_with(seeded, ""), field)
    assert db_dump(seeded) == before


# -- item 14: tools are text, and arguments of the wrong type say what works -----------------


def test_content_may_be_a_str_wherever_it_enters(vault: Vault) -> None:
    assert vault.publish("t", SCRIPT).created
    vault.publish_many([NewVersion("t", "#!/bin/sh\necho ünï\n"), NewVersion("u", "echo u\n")])
    assert vault.cat("t:1").content == SCRIPT.encode()
    assert vault.cat("t:2").text == "#!/bin/sh\necho ünï\n"
    assert vault.get("t:1").executable and not vault.get("u").executable
    assert not vault.publish("u", b"echo u\n").created  # str and bytes are one content
    refused(lambda: vault.publish("t", "echo \udc80\n"), "unpaired surrogate")


def wrong_type_calls(v: Vault, home: Path) -> list[tuple[str, Callable[[], object]]]:
    """Library calls with an argument of the wrong type (before the fix, most of these
    raised TypeError or AttributeError, or silently did the wrong thing)."""
    nv = NewVersion
    return [
        ("Vault.open(123)", lambda: Vault.open(123)),  # type: ignore[arg-type]
        ("Vault.open(db=5)", lambda: Vault.open(home, db=5)),  # type: ignore[arg-type]
        ("Vault.open(create='no')", lambda: Vault.open(home, create="no")),  # type: ignore[arg-type]
        ("Vault.open(actor=ESC)", lambda: Vault.open(home, actor="\x1b[2J")),
        ("get(None)", lambda: v.get(None)),  # type: ignore[arg-type]
        ("get(123)", lambda: v.get(123)),  # type: ignore[arg-type]
        ("get(b't')", lambda: v.get(b"t")),  # type: ignore[arg-type]
        ("cat(None)", lambda: v.cat(None)),  # type: ignore[arg-type]
        ("describe(3.5)", lambda: v.describe(3.5)),  # type: ignore[arg-type]
        ("tool(123)", lambda: v.tool(123)),  # type: ignore[arg-type]
        ("versions(123)", lambda: v.versions(123)),  # type: ignore[arg-type]
        ("version_listing(None)", lambda: v.version_listing(None)),  # type: ignore[arg-type]
        ("labels(5)", lambda: v.labels(5)),  # type: ignore[arg-type]
        ("yanks(5)", lambda: v.yanks(5)),  # type: ignore[arg-type]
        ("audit(5)", lambda: v.audit(5)),  # type: ignore[arg-type]
        ("refs_report(None)", lambda: v.refs_report(None)),  # type: ignore[arg-type]
        ("signature_status(None)", lambda: v.signature_status(None)),  # type: ignore[arg-type]
        ("diff(None)", lambda: v.diff(None)),  # type: ignore[arg-type]
        ("diff('t:1', 2)", lambda: v.diff("t:1", 2)),  # type: ignore[arg-type]
        ("diff(context='3')", lambda: v.diff("t:1", "t:2", context="3")),  # type: ignore[arg-type]
        ("publish(123, …)", lambda: v.publish(123, b"x\n")),  # type: ignore[arg-type]
        ("publish(content=None)", lambda: v.publish("t", None)),  # type: ignore[arg-type]
        ("publish(content=123)", lambda: v.publish("t", 123)),  # type: ignore[arg-type]
        ("publish(content=['x'])", lambda: v.publish("t", ["x"])),  # type: ignore[arg-type]
        ("references='t:1'", lambda: v.publish("t", b"x\n", references="t:1")),
        ("references=[None]", lambda: v.publish("t", b"x\n", references=[None])),
        ("references=[1]", lambda: v.publish("t", b"x\n", references=[1])),
        ("transforms='abc'", lambda: v.publish("t", b"x\n", transforms="abc")),
        ("transforms=[1]", lambda: v.publish("t", b"x\n", transforms=[1])),
        ("owner=5", lambda: v.publish("t", b"x\n", owner=5)),
        ("created_by=['a']", lambda: v.publish("t", b"x\n", created_by=["a"])),
        ("created_at=12345", lambda: v.publish("t", b"x\n", created_at=12345)),
        ("prompt=b'x'", lambda: v.publish("t", b"x\n", prompt=b"x")),
        ("session_id=7", lambda: v.publish("t", b"x\n", session_id=7)),
        ("rollback_of='2'", lambda: v.publish("t", b"x\n", rollback_of="2")),
        ("allow_dangling='yes'", lambda: v.publish("t", b"x\n", allow_dangling="yes")),
        ("publish(bogus=1)", lambda: v.publish("t", b"x\n", bogus=1)),
        ("publish_many(NewVersion)", lambda: v.publish_many(nv("t", b"x\n"))),  # type: ignore[arg-type]
        ("publish_many([tuple])", lambda: v.publish_many([("t", b"x\n")])),  # type: ignore[list-item]
        ("publish_many('t')", lambda: v.publish_many("t")),  # type: ignore[arg-type]
        ("publish_many(None)", lambda: v.publish_many(None)),  # type: ignore[arg-type]
        ("publish_many(sign_with=5)", lambda: v.publish_many([nv("t", b"x\n")], sign_with=5)),  # type: ignore[arg-type]
        ("NewVersion(123, …)", lambda: v.publish_many([nv(123, b"x\n")])),  # type: ignore[arg-type]
        ("NewVersion(content=5)", lambda: nv("t", 5)),  # type: ignore[arg-type]
        ("rollback(None, 1)", lambda: v.rollback(None, 1)),  # type: ignore[arg-type]
        ("rollback('t', None)", lambda: v.rollback("t", None)),  # type: ignore[arg-type]
        ("rollback('t', 1.5)", lambda: v.rollback("t", 1.5)),  # type: ignore[arg-type]
        ("rollback(message=5)", lambda: v.rollback("t", 1, message=5)),  # type: ignore[arg-type]
        ("label(None, …)", lambda: v.label(None, "stable")),  # type: ignore[arg-type]
        ("label(…, None)", lambda: v.label("t:1", None)),  # type: ignore[arg-type]
        ("label(…, 5)", lambda: v.label("t:1", 5)),  # type: ignore[arg-type]
        ("delete_label(…, None)", lambda: v.delete_label("t", None)),  # type: ignore[arg-type]
        ("yank(…, None)", lambda: v.yank("t:1", None)),  # type: ignore[arg-type]
        ("yank(None, …)", lambda: v.yank(None, "r")),  # type: ignore[arg-type]
        ("yank(…, 5)", lambda: v.yank("t:1", 5)),  # type: ignore[arg-type]
        ("set_lifecycle(None, …)", lambda: v.set_lifecycle(None, "retired")),  # type: ignore[arg-type]
        ("set_lifecycle(…, None)", lambda: v.set_lifecycle("t", None)),  # type: ignore[arg-type]
        ("set_lifecycle(message=5)", lambda: v.set_lifecycle("t", "deprecated", 5)),  # type: ignore[arg-type]
        ("transfer(…, None)", lambda: v.transfer("t", None)),  # type: ignore[arg-type]
        ("transfer(5, …)", lambda: v.transfer(5, "bob")),  # type: ignore[arg-type]
        ("trust(None, …)", lambda: v.trust(None, "ed25519:x")),  # type: ignore[arg-type]
        ("trust(…, None)", lambda: v.trust("k2", None)),  # type: ignore[arg-type]
        ("untrust(None)", lambda: v.untrust(None)),  # type: ignore[arg-type]
        ("generate_key(None)", lambda: v.generate_key(None)),  # type: ignore[arg-type]
        ("create_token(None)", lambda: v.create_token(None)),  # type: ignore[arg-type]
        ("revoke_token(None)", lambda: v.revoke_token(None)),  # type: ignore[arg-type]
        ("verify('t')", lambda: v.verify("t")),
        ("verify([None])", lambda: v.verify([None])),  # type: ignore[list-item]
        ("verify(workers='2')", lambda: v.verify(workers="2")),  # type: ignore[arg-type]
        ("fetch_tool(123, …)", lambda: fetch_tool(123, "t")),  # type: ignore[arg-type]
        ("fetch_tool(…, None)", lambda: fetch_tool(v, None)),  # type: ignore[arg-type]
        ("fetch_tool(…, 123)", lambda: fetch_tool(v, 123)),  # type: ignore[arg-type]
        ("fetch_tool(version='2')", lambda: fetch_tool(v, "t", version="2")),  # type: ignore[arg-type]
        ("parse(None)", lambda: parse(None)),  # type: ignore[arg-type]
        ("parse(123)", lambda: parse(123)),  # type: ignore[arg-type]
        ("format_spec('t:1')", lambda: format_spec("t:1")),  # type: ignore[arg-type]
    ]


def test_library_calls_with_arguments_of_the_wrong_type_say_what_would_work(
    seeded: Vault, tmp_path: Path
) -> None:
    before = db_dump(seeded)
    calls = wrong_type_calls(seeded, seeded.home)
    raw = []
    for what, call in calls:
        try:
            call()
        except ToolvaultError as exc:
            words = ("must be", " is a ", "takes", "has no field", "control character")
            assert any(w in str(exc) for w in words), (
                what,
                str(exc),
            )
        except Exception as exc:  # the point: none of these may escape as anything else
            raw.append(f"{what}: {type(exc).__name__}: {exc}")
        else:
            raw.append(f"{what}: accepted")
    assert raw == []
    assert len(calls) >= 70
    assert db_dump(seeded) == before


def test_open_makes_no_folder_tree_where_the_parent_is_missing(tmp_path: Path) -> None:
    home = tmp_path / "no" / "such" / "home"
    refused(lambda: Vault.open(home), "does not exist", str(home.parent))
    assert not (tmp_path / "no").exists()
    home.parent.mkdir(parents=True)
    with Vault.open(home) as vault:
        assert vault.tools() == []


# -- the CLI -------------------------------------------------------------------------------


def cli_cases() -> list[list[str]]:
    cases = []
    for ch in ("\x1b[2J", "\n", "\x07", "\x9b", "\x00"):
        cases += [
            ["add", "{src}", "--name", "t", "--owner", f"a{ch}"],
            ["add", "{src}", "--name", "t", "--created-by", f"a{ch}"],
            ["add", "{src}", "--name", "t", "--origin", f"a{ch}"],
            ["add", "{src}", "--name", "t", "--session", f"a{ch}"],
            ["add", "{src}", "--name", "t", "--transform", f"a{ch}"],
            ["owner", "t", f"a{ch}b"],
        ]
        if ch != "\n":  # a principal with a space or line break was refused already
            cases.append(["token", "create", "--principal", f"a{ch}b"])
    for ch in ("\x1b[2J", "\r", "\x07", "\x85"):
        cases += [
            ["add", "{src}", "--name", "t", "--prompt", f"a{ch}"],
            ["add", "{src}", "--name", "t", "-m", f"a{ch}"],
            ["deprecate", "t", "-m", f"a{ch}"],
            ["retire", "t", "-m", f"a{ch}"],
            ["rollback", "t", "1", "-m", f"a{ch}"],
            ["yank", "t:1", "--reason", f"a{ch}b"],
        ]
    cases += [
        ["add", "{src}", "--name", "t", "--owner", ""],
        ["add", "{src}", "--name", "t", "--created-by", " "],
        ["add", "{src}", "--name", "t", "--owner", "o" * 257],
        ["add", "{src}", "--name", "t", "-m", "m" * 65_537],
        ["yank", "t:1", "--reason", "r" * 65_537],
    ]
    return cases


CLI_CASES = cli_cases()


@pytest.mark.parametrize(
    "args", CLI_CASES, ids=lambda a: repr(a[:1] + a[3:] if "{src}" in a else a)
)
def test_the_cli_refuses_bad_metadata_with_one_line_and_writes_nothing(
    tmp_path: Path, home: Path, args: list[str]
) -> None:
    src = write(tmp_path / "t.sh", SCRIPT)
    ok("add", str(src), "--name", "t")
    ok("add", str(write(tmp_path / "t2.sh", SCRIPT + "# 2\n")), "--name", "t")
    before, tree = dump(home), sorted(p.name for p in (home / "commands").rglob("*"))
    src2 = write(tmp_path / "new.sh", "#!/bin/sh\necho new\n")
    result = tv(*[a.replace("{src}", str(src2)) for a in args])
    assert result.exit_code == 2, (result.output, result.exception)
    assert_one_line_error(result, "")
    assert "\x1b" not in result.stderr and "internal error" not in result.stderr
    assert dump(home) == before
    assert sorted(p.name for p in (home / "commands").rglob("*")) == tree


def test_the_owner_line_break_of_the_issue_forges_no_row(tmp_path: Path, home: Path) -> None:
    ok("add", str(write(tmp_path / "t.sh", SCRIPT)), "--name", "t", "--owner", "alice")
    assert tv("owner", "t", "a\nb").exit_code == 2
    assert [t["owner"] for t in js("ls")] == ["alice"]
    assert len(ok("ls").stdout.strip().splitlines()) == 2  # the header and t


def test_a_time_from_the_library_is_shown_in_utc(home: Path) -> None:
    with Vault.open(home) as vault:
        vault.publish("t", SCRIPT, created_at="2024-01-02T03:04:05+01:00")
    assert js("show", "t")["created_at"] == "2024-01-02T02:04:05.000000Z"


# -- the daemon over HTTP --------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str, Path]]:
    """A daemon on 127.0.0.1 over a SQLite home with t:1 by alice; (daemon, alice's token, home)."""
    home = tmp_path_factory.mktemp("validate") / "home"
    token = make_token(home, "alice")
    daemon = Daemon(home)
    try:
        assert daemon.publish(token, "t", SCRIPT).status_code == 200
        yield daemon, token, home
    finally:
        daemon.stop()


def http_cases() -> list[tuple[str, str, Any]]:
    """(method, path, JSON body) of requests the daemon must refuse with 400."""
    cases: list[tuple[str, str, Any]] = []

    def item(**fields: Any) -> dict[str, Any]:
        return {"items": [{"name": "t", "content": "echo new\n", **fields}]}

    for name, value in BAD_FIELDS:
        if name != "created_by":  # the daemon ignores it: the token says who writes
            cases.append(("POST", "/v1/publish", item(**{name: value})))
    cases += [("POST", "/v1/publish", item(created_at=w)) for w in BAD_TIMES]
    cases += [("POST", "/v1/publish", item(executable=b)) for b in NOT_BOOLEAN]
    cases += [("POST", "/v1/publish", item(owner=""))]
    cases += [("POST", "/v1/publish", item(prompt="p" * (1024 * 1024 + 1)))]
    cases += [("POST", "/v1/publish", {"items": []})]
    for ch in CONTROL + BREAKS:
        cases += [("POST", "/v1/tools/t/owner", {"owner": f"a{ch}b"})]
    for ch in CONTROL:
        cases += [
            ("POST", "/v1/yank", {"spec": "t:1", "reason": f"a{ch}b"}),
            ("POST", "/v1/tools/t/lifecycle", {"lifecycle": "deprecated", "message": f"a{ch}"}),
            ("POST", "/v1/tools/t/rollback", {"version": 1, "message": f"a{ch}"}),
        ]
    cases += [("POST", "/v1/tools/t/owner", {"owner": ""})]
    cases += [("POST", "/v1/tools/t/lifecycle", {"lifecycle": "zombie"})]
    return cases


HTTP_CASES = http_cases()


def test_the_daemon_refuses_bad_metadata_with_400_and_writes_nothing(
    served: tuple[Daemon, str, Path],
) -> None:
    daemon, token, home = served
    before = dump(home)
    for method, path, body in HTTP_CASES:
        response = daemon.call(method, path, token, json=body)
        assert response.status_code == 400, (path, body, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    assert dump(home) == before


@settings(max_examples=40, deadline=None)
@given(name=FIELDS.filter(lambda n: n != "created_by"), dirty=DIRTY)
def test_any_dirty_text_in_any_field_is_a_400_from_the_daemon(
    served: tuple[Daemon, str, Path], name: str, dirty: str
) -> None:
    daemon, token, home = served
    before = dump(home)
    response = daemon.publish(token, "t", "echo new\n", **{name: as_field(name, dirty)})
    assert response.status_code == 400, response.text
    assert dump(home) == before


def test_the_daemon_stores_created_at_in_utc(served: tuple[Daemon, str, Path]) -> None:
    daemon, token, _ = served
    response = daemon.publish(token, "when", SCRIPT, created_at="2024-01-02T03:04:05+01:00")
    assert response.status_code == 200, response.text
    shown = daemon.call("GET", "/v1/versions/when:1", token).json()
    assert shown["created_at"] == "2024-01-02T02:04:05.000000Z"


# -- packs -----------------------------------------------------------------------------------


@pytest.fixture
def pack(tmp_path: Path, home: Path) -> Path:
    """A pack of t:1 (labelled stable) and t:2 (yanked) made by the CLI."""
    ok("add", str(write(tmp_path / "t.sh", SCRIPT)), "--name", "t", "--prompt", "p")
    ok("add", str(write(tmp_path / "t2.sh", SCRIPT + "# 2\n")), "--name", "t")
    ok("label", "t:1", "stable")
    ok("yank", "t:2", "--reason", "broken")
    out = tmp_path / "team-1.tar.gz"
    ok("pack", "export", "t", "-o", str(out), "--pack-name", "team")
    return out


def pack_edits() -> list[tuple[str, Callable[[dict[str, Any]], None]]]:
    def meta(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda doc: doc["tools"][0]["metadata"].__setitem__(field, value)

    edits: list[tuple[str, Callable[[dict[str, Any]], None]]] = []
    for field in ONE_LINE + MULTI_LINE:
        edits += [(f"{field} ESC", meta(field, "a\x1b[2Jb")), (f"{field} C1", meta(field, "\x9b"))]
    for field in ONE_LINE:
        edits.append((f"{field} LF", meta(field, "a\nb")))
    edits += [
        ("references ESC", meta("references", ["t:1\x1b"])),
        ("transforms LF", meta("transforms", ["a\nb"])),
        ("owner empty", meta("owner", "")),
        ("created_by empty", meta("created_by", " ")),
        ("owner too long", meta("owner", "o" * 257)),
        ("message too big", meta("message", "m" * 65_537)),
        ("created_at yesterday", meta("created_at", "yesterday")),
        ("created_at no offset", meta("created_at", "2024-01-02T03:04:05")),
        ("recorded_at bad", meta("recorded_at", "2024-02-30T00:00:00Z")),
        ("key_id ESC", meta("key_id", "\x1b")),
        ("executable 'no'", lambda d: d["tools"][0].__setitem__("executable", "no")),
        ("executable 1", lambda d: d["tools"][0].__setitem__("executable", 1)),
        ("lifecycle zombie", lambda d: d["tool_state"]["t"].__setitem__("lifecycle", "zombie")),
        ("state owner ESC", lambda d: d["tool_state"]["t"].__setitem__("owner", "\x1b]0;x\x07")),
        ("state owner empty", lambda d: d["tool_state"]["t"].__setitem__("owner", "")),
        (
            "state message BEL",
            lambda d: d["tool_state"]["t"].__setitem__("lifecycle_message", "\x07"),
        ),
        ("state updated_at", lambda d: d["tool_state"]["t"].__setitem__("updated_at", "never")),
        ("label set_by LF", lambda d: d["labels"][0].__setitem__("set_by", "a\nb")),
        ("label name 1x", lambda d: d["labels"][0].__setitem__("label", "1x")),
        ("label set_at", lambda d: d["labels"][0].__setitem__("set_at", "then")),
        ("yank reason CR", lambda d: d["yanks"][0].__setitem__("reason", "a\rb")),
        ("yank reason empty", lambda d: d["yanks"][0].__setitem__("reason", "")),
        ("yank actor ESC", lambda d: d["yanks"][0].__setitem__("actor", "\x1b")),
        ("yank at", lambda d: d["yanks"][0].__setitem__("at", "soon")),
        ("pack name ESC", lambda d: d.__setitem__("name", "team\x1b")),
        ("pack created", lambda d: d.__setitem__("created", "yesterday")),
    ]
    return edits


PACK_EDITS = pack_edits()


@pytest.mark.parametrize("into", ["empty", "has-t"])
def test_a_pack_with_bad_metadata_is_refused_and_writes_nothing(
    tmp_path: Path, pack: Path, into: str
) -> None:
    target = tmp_path / "target"
    ok(*at(target, "init"))
    if into == "has-t":  # the pack's versions would be appended, not restored
        ok(*at(target, "add", str(write(tmp_path / "x.sh", "echo x\n")), "--name", "t"))
    before = dump(target)
    accepted = []
    for what, edit in PACK_EDITS:
        doc = manifest(pack)
        edit(doc)
        bad = rebuild(pack, tmp_path / "bad.tar.gz", {"toolpack.json": json.dumps(doc).encode()})
        result = tv(*at(target, "ingest", str(bad)))
        if result.exit_code != 2 or "internal error" in result.stderr:
            accepted.append((what, result.exit_code, result.stderr))
    assert accepted == []
    assert dump(target) == before


def test_a_manifest_nested_thousands_deep_is_refused_cleanly(tmp_path: Path, pack: Path) -> None:
    deep = b'{"format": "toolvault-pack/1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    bad = rebuild(pack, tmp_path / "deep.tar.gz", {"toolpack.json": deep})
    result = tv(*at(tmp_path / "target", "ingest", str(bad)))
    assert result.exit_code == 2
    assert_one_line_error(result, "nested too deeply")


def test_a_restored_version_must_have_a_time_and_keeps_it_as_written(
    tmp_path: Path, pack: Path
) -> None:
    """A restore checks the time but never rewrites it: a signature covers its text."""
    target = tmp_path / "target"
    doc = manifest(pack)
    doc["tools"][0]["metadata"]["created_at"] = "yesterday"
    bad = rebuild(pack, tmp_path / "bad.tar.gz", {"toolpack.json": json.dumps(doc).encode()})
    assert_one_line_error(tv(*at(target, "ingest", str(bad))), "is not a time")
    doc["tools"][0]["metadata"]["created_at"] = "2024-01-02T03:04:05+01:00"
    edited = rebuild(pack, tmp_path / "ok.tar.gz", {"toolpack.json": json.dumps(doc).encode()})
    ok(*at(target, "ingest", str(edited)))
    assert js(*at(target, "show", "t:1"))["created_at"] == "2024-01-02T03:04:05+01:00"
    assert js(*at(target, "verify"))["ok"] is True


# -- legacy stores ---------------------------------------------------------------------------


def tools_db(path: Path, row: dict[str, Any]) -> Path:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE tools (name TEXT, code TEXT, description TEXT, owner TEXT)")
        db.execute("INSERT INTO tools VALUES ('good', 'echo good\n', 'fine', 'core')")
        db.execute(
            "INSERT INTO tools VALUES (:name, :code, :description, :owner)",
            {"name": "bad", "code": "echo bad\n", "description": None, "owner": None, **row},
        )
        db.commit()
    return path


LEGACY_TOOLS_DB = [
    {"description": "desc \x1b[2J"},
    {"description": "bell\x07"},
    {"description": "cr\rx"},
    {"owner": "a\nb"},
    {"owner": "\x9b31m"},
    {"owner": "o" * 257},
]
LEGACY_PORT42 = [
    {"user_prompt": "make it \x1b[31mred"},
    {"user_prompt": "line\rbreak"},
    {"agent": "@ai\nforged"},
    {"agent": "\x1b"},
    {"memory_session": "s\t1"},
    {"description": "a\x85b"},
    {"transforms": ["ok", "a\x00b"]},
    {"references": ["tool:go\x1bod"]},
]


@pytest.mark.parametrize("row", LEGACY_TOOLS_DB, ids=repr)
def test_a_tools_db_item_with_bad_metadata_refuses_the_import(
    tmp_path: Path, home: Path, row: dict[str, Any]
) -> None:
    db = tools_db(tmp_path / "tools.db", row)
    ok("init")
    before = dump(home)
    result = tv("migrate-legacy", "--tools-db", str(db))
    assert result.exit_code == 2, result.output
    assert_one_line_error(result, "nothing was imported")
    assert "(bad)" in result.stderr.split("nothing was imported")[1]
    assert dump(home) == before


@pytest.mark.parametrize("props", LEGACY_PORT42, ids=repr)
def test_a_port42_item_with_bad_metadata_refuses_the_import(
    tmp_path: Path, home: Path, props: dict[str, Any]
) -> None:
    p = Port42(tmp_path / ".port42")
    good, bad = p.obj("echo good\n"), p.obj("echo bad\n")
    p.relation("good-1", "2025-09-17T10:00:00Z", good, name="good", agent="@ai")
    p.relation("bad-1", "2025-09-18T10:00:00Z", bad, name="bad", **props)
    ok("init")
    before = dump(home)
    result = tv("migrate-legacy", "--port42-home", str(p.root))
    assert result.exit_code == 2, result.output
    assert_one_line_error(result, "relations/relation-bad-1.json")
    assert "\x1b" not in result.stderr
    assert dump(home) == before


def test_a_prompt_with_windows_line_ends_imports_as_written(tmp_path: Path, home: Path) -> None:
    """CR LF ends lines of multi-line text (a prompt pasted from Windows); only a lone
    carriage return, which rewrites the terminal's line, is refused."""
    p = Port42(tmp_path / ".port42")
    obj = p.obj("echo crlf\n")
    p.relation("crlf-1", "2025-09-17T10:00:00Z", obj, name="crlf", user_prompt="one\r\ntwo\r\n")
    ok("init")
    ok("migrate-legacy", "--port42-home", str(p.root))
    assert js("show", "crlf")["prompt"] == "one\r\ntwo\r\n"
    assert validate.text(validate.MESSAGE, "a\r\nb") == "a\r\nb"
    for bad in ("a\rb", "a\r", "a\r\r\nb"):
        with pytest.raises(InvalidInput, match="carriage return"):
            validate.text(validate.MESSAGE, bad)
    with pytest.raises(InvalidInput, match="carriage return"):
        validate.text(validate.OWNER, "a\r\nb")


# -- item 15: clean messages instead of internal errors ------------------------------------


def test_a_token_holding_a_newline_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLVAULT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TOOLVAULT_TOKEN", "tv_abc\ndef")
    for args in (["ls"], ["show", "t"], ["add", str(write(tmp_path / "t.sh", SCRIPT))]):
        result = tv(*args)
        assert result.exit_code == 2, result.output
        assert_one_line_error(result, "TOOLVAULT_TOKEN holds the character U+000A (line feed)")
    # 'cat' has a fast path of its own, before the command line
    env = {**os.environ, "TOOLVAULT_URL": "http://127.0.0.1:9", "TOOLVAULT_TOKEN": "tv_a\nb"}
    done = subprocess.run(
        [sys.executable, "-m", "toolvault", "cat", "t"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "TOOLVAULT_TOKEN holds" in lines[0], lines


@pytest.mark.skipif(not os.path.isdir("/proc/1"), reason="needs Linux's /proc")
def test_an_uncreatable_home_is_a_clean_error() -> None:
    result = tv("--home", "/proc/1", "init")
    assert result.exit_code == 2, result.output
    assert_one_line_error(result, "cannot create a vault in /proc/1")
    assert "Errno" not in result.stderr


def test_an_error_message_never_carries_a_control_character(tmp_path: Path) -> None:
    """A path the user typed comes back in the message, escaped (click only strips
    complete ANSI sequences, and only when stderr is no terminal)."""
    result = tv("add", str(tmp_path / "a\x07b\x9bc\x1bd"))
    assert result.exit_code == 2
    assert_one_line_error(result, "a\\x07b\\x9bc\\x1bd: no such file or folder")
