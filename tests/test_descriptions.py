"""Descriptions and usage (SPEC §10): read from a tool's header, never by running it,
given with ``add``, filled by every import, shown by show/ls/context/the API, protected
like every provenance field; existing signatures keep verifying."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from conftest import drop_triggers, raw
from test_cli import assert_one_line_error, js, ok, tv, write
from test_gitsource import ADA, BOB, commit, git
from test_gitsource import write as put
from test_ingest import base, server  # noqa: F401 -- the fixture
from test_packs import at, manifest, rebuild
from test_server import Daemon, error, make_token
from toolvault import Vault
from toolvault.describe import MAX_DESCRIPTION, MAX_USAGE, extract
from toolvault.errors import InvalidInput
from toolvault.hashing import canonical, digest
from toolvault.vault import NewVersion

LONG_WORDS = " ".join(["summarise"] * 200)  # 1,999 characters
HEADERS: list[tuple[str, str, str | None, str | None]] = [
    (
        "python-docstring-usage",
        '#!/usr/bin/env python3\n"""Summarise CSV columns.\n\nUsage: csvsum FILE\n'
        '  -n N  rows\n"""\nimport sys\n',
        "Summarise CSV columns.",
        "Usage: csvsum FILE\n  -n N  rows",
    ),
    (
        "python-after-coding-and-comments",
        "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n# a comment\n\n"
        "'''Count words\nin files.'''\n",
        "Count words in files.",
        None,
    ),
    (
        "python-escapes",
        '"""Tab\\tand a \\u00e9."""\nx = 1\n',
        "Tab and a é.",
        None,
    ),
    (
        "hash-block",
        "#!/bin/sh\n# Delete merged branches.\n# Keeps main.\n#\n# Usage: prune [-n]\n"
        "#   -n  dry run\nset -e\n# not the header\n",
        "Delete merged branches. Keeps main.",
        "Usage: prune [-n]\n  -n  dry run",
    ),
    (
        "hash-rules-and-second-paragraph",
        "#!/bin/bash\n##########\n# First paragraph.\n#\n# Second one.\n#\n# Usage: x\n"
        "##########\necho\n",
        "Second one.",
        "Usage: x",
    ),
    (
        "slash-block",
        "#!/usr/bin/env node\n// Serve a folder over HTTP.\n// usage: serve DIR\nserve()\n",
        "Serve a folder over HTTP.",
        "usage: serve DIR",
    ),
    (
        "dash-block",
        "-- Monthly totals per account.\n--\n-- Usage: psql -f totals.sql\nSELECT 1;\n",
        "Monthly totals per account.",
        "Usage: psql -f totals.sql",
    ),
    ("no-header", "#!/bin/sh\necho hello\n# a comment later\n", None, None),
    ("empty", "", None, None),
    ("shebang-only", "#!/bin/sh\n", None, None),
    ("usage-only", "#!/bin/sh\n# Usage: go NOW\n", None, "Usage: go NOW"),
    (
        "non-ascii",
        "#!/bin/sh\n# Résumé des colonnes — 表計算 ✓\n#\n# Usage: résumé FICHIER\n",
        "Résumé des colonnes — 表計算 ✓",
        "Usage: résumé FICHIER",
    ),
    (
        "control-characters",
        "#!/bin/sh\n# Bell\x07 and\tTab\x1b[31m red\n",
        "Bell and Tab[31m red",
        None,
    ),
    ("crlf", "#!/bin/sh\r\n# Windows lines.\r\n#\r\n# Usage: w\r\n", "Windows lines.", "Usage: w"),
]


@pytest.mark.parametrize(
    ("text", "description", "usage"), [h[1:] for h in HEADERS], ids=[h[0] for h in HEADERS]
)
def test_extraction_over_a_table_of_headers(
    text: str, description: str | None, usage: str | None
) -> None:
    assert extract(text.encode()) == (description, usage)


def test_an_over_long_header_is_cut_to_the_limits() -> None:
    usage = "\n".join(f"  --option-{i:04d}  does thing {i} é" for i in range(600))
    text = f'"""{LONG_WORDS}\n\nUsage: big [OPTIONS]\n{usage}\n"""\n'
    description, found = extract(text.encode())
    assert description is not None and found is not None
    assert len(description) <= MAX_DESCRIPTION and description.endswith("summarise…")
    assert len(found.encode()) <= MAX_USAGE and found.endswith("\n…")
    assert found.startswith("Usage: big [OPTIONS]\n  --option-0000  does thing 0 é")
    kept = found.removesuffix("\n…").splitlines()[-1]
    assert kept.startswith("  --option-") and kept.endswith(" é")  # cut at a line


def test_extraction_never_runs_the_tool(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f'#!/usr/bin/env python3\n"""Safe."""\nopen({str(marker)!r}, "w")\n'
    assert extract(text.encode()) == ("Safe.", None)
    ok("add", str(write(tmp_path / "safe.py", text)))
    assert js("show", "safe")["description"] == "Safe." and not marker.exists()


# -- the library ------------------------------------------------------------------------------

PRUNE = "#!/bin/sh\n# Delete merged branches.\n#\n# Usage: prune [-n]\ngit branch\n"


def test_publish_reads_the_header_and_given_fields_win(vault: Vault) -> None:
    v1 = vault.publish("prune", PRUNE)
    got = vault.get("prune:1")
    assert (got.description, got.usage) == ("Delete merged branches.", "Usage: prune [-n]")
    vault.publish("prune", PRUNE + "# 2\n", description="Given.", usage="Usage: p\n  -x  x")
    got = vault.get("prune:2")
    assert (got.description, got.usage) == ("Given.", "Usage: p\n  -x  x")
    vault.publish("prune", PRUNE + "# 3\n", description="Only this.")
    got = vault.get("prune:3")
    assert (got.description, got.usage) == ("Only this.", "Usage: prune [-n]")
    assert vault.verify().ok and v1.version == 1
    vault.rollback("prune", 2)  # the version it goes back to keeps what was given
    got = vault.get("prune")
    assert (got.version, got.description, got.usage) == (4, "Given.", "Usage: p\n  -x  x")


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("description", "two\nlines", "description holds the control character U+000A"),
        ("description", "x" * (MAX_DESCRIPTION + 1), "description is 1,025 characters long"),
        ("description", 7, "description must be a text (str), not an int"),
        ("usage", "é" * (MAX_USAGE // 2 + 1), "usage is 8,194 bytes of UTF-8; the limit is 8,192"),
        ("usage", "bell\x07", "usage holds the control character U+0007"),
        ("usage", ["Usage: x"], "usage must be a text (str), not a list"),
    ],
)
def test_bad_descriptions_and_usages_are_refused_and_nothing_is_written(
    vault: Vault, field: str, value: Any, words: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(words)):
        vault.publish("prune", PRUNE, **{field: value})
    assert vault.tools() == []


# -- the command line ---------------------------------------------------------------------------


def test_add_takes_description_usage_and_usage_file(tmp_path: Path) -> None:
    usage = write(tmp_path / "usage.txt", "Usage: prune [-n]\n  -n  dry run\n\n")
    src = write(tmp_path / "prune.sh", PRUNE)
    ok("add", str(src), "--description", "Prune branches.", "--usage-file", str(usage))
    shown = js("show", "prune")
    assert shown["description"] == "Prune branches."
    assert shown["usage"] == "Usage: prune [-n]\n  -n  dry run"  # as "$(cat F)" gives it
    write(src, PRUNE + "# v2\n")
    ok("add", str(src), "--usage", "Usage: prune")
    assert (js("show", "prune")["description"], js("show", "prune")["usage"]) == (
        "Delete merged branches.",
        "Usage: prune",
    )
    listed = js("ls")
    assert [(t["name"], t["description"]) for t in listed] == [("prune", "Delete merged branches.")]
    text = ok("show", "prune").stdout
    assert "  description:      Delete merged branches.\n" in text
    assert "  usage:            Usage: prune\n" in text
    context = ok("context", "prune:1").stdout
    assert "- description: Prune branches.\n" in context
    assert "- usage:\n\n    Usage: prune [-n]\n      -n  dry run\n" in context
    (item,) = js("context", "prune:1")
    assert item["description"] == "Prune branches." and item["usage"].startswith("Usage:")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--usage", "x", "--usage-file", "u.txt"], "give --usage or --usage-file, not both"),
        (["--usage-file", "missing.txt"], "--usage-file missing.txt: no such file"),
        (["--usage-file", "big.txt"], "the most a usage may hold"),
        (["--description", "a\nb"], "description holds the control character U+000A"),
        (["--description", "d" * 1025], "description is 1,025 characters long"),
        (["--usage-file", "-", "--message-file", "-"], "both read standard input"),
    ],
)
def test_bad_add_options_are_one_line_errors(
    tmp_path: Path, home: Path, args: list[str], words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "u.txt", "Usage: x\n")
    write(tmp_path / "big.txt", "u" * (MAX_USAGE + 1))
    result = tv("add", str(write(tmp_path / "prune.sh", PRUNE)), *args)
    assert result.exit_code == 2, result.output
    assert_one_line_error(result, words)
    assert not (home / "vault.db").exists() or js("ls") == []


def test_ls_cuts_the_description_to_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("add", str(write(tmp_path / "long.sh", f"#!/bin/sh\n# {LONG_WORDS}\n")))
    monkeypatch.setenv("COLUMNS", "100")
    lines = ok("ls").stdout.splitlines()
    assert lines[0].endswith("DESCRIPTION") and all(len(line) <= 100 for line in lines)
    assert lines[1].endswith("…") and "summarise summarise" in lines[1]
    monkeypatch.delenv("COLUMNS")  # not a terminal: the whole description, for programs
    stored = js("show", "long")["description"]
    assert len(stored) <= MAX_DESCRIPTION and ok("ls").stdout.splitlines()[1].endswith(stored)


# -- imports ----------------------------------------------------------------------------------


def test_files_folders_and_urls_fill_them(
    tmp_path: Path,
    server: Any,  # noqa: F811 -- the fixture
) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    write(folder / "prune.sh", PRUNE)
    write(folder / "csvsum.py", '"""Sum CSV columns.\n\nUsage: csvsum F\n"""\n', 0o644)
    ok("ingest", str(folder))
    assert js("show", "prune")["usage"] == "Usage: prune [-n]"
    assert js("show", "csvsum")["description"] == "Sum CSV columns."
    server.files["/tools/lines.sh"] = b"#!/bin/sh\n# Count lines.\nwc -l\n"
    ok("ingest", "--url", f"{base(server)}/tools/lines.sh")
    assert js("show", "lines")["description"] == "Count lines."


def test_git_history_fills_each_version(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    put(repo, "prune.sh", b"#!/bin/sh\n# First words.\necho 1\n", 0o755)
    commit(repo, "add prune", ADA, 1)
    put(repo, "prune.sh", b"#!/bin/sh\n# Second words.\n#\n# Usage: prune\necho 2\n", 0o755)
    commit(repo, "prune: usage", BOB, 2)
    ok("ingest", "--git", str(repo), "--history")
    found = [(v["description"], v["usage"]) for v in js("versions", "prune")]
    assert found == [("First words.", None), ("Second words.", "Usage: prune")]
    assert js("verify")["ok"] is True


def test_packs_carry_them_restored_and_appended(tmp_path: Path, home: Path) -> None:
    public = ok("keys", "generate", "laptop").stdout.strip()
    ok("add", str(write(tmp_path / "prune.sh", PRUNE)), "--sign", "laptop")
    ok("add", str(write(tmp_path / "prune.sh", PRUNE + "# 2\n")), "--description", "Two.")
    pack = tmp_path / "p.tar.gz"
    ok("pack", "export", "prune", "-o", str(pack), "--pack-name", "p")
    metas = [v["metadata"] for v in manifest(pack)["tools"]]
    assert [(m["description"], m["usage"]) for m in metas] == [
        ("Delete merged branches.", "Usage: prune [-n]"),
        ("Two.", "Usage: prune [-n]"),
    ]
    restored = tmp_path / "restored"
    ok(*at(restored, "trust", "add", "laptop", public))
    ok(*at(restored, "ingest", str(pack)))
    assert js(*at(restored, "versions", "prune")) == js("versions", "prune")
    assert js(*at(restored, "verify"))["ok"] is True
    assert js(*at(restored, "show", "prune:1"))["signature_status"] == "valid (key laptop)"
    appended = tmp_path / "appended"
    ok(*at(appended, "add", str(write(tmp_path / "other.sh", "echo 0\n")), "--name", "prune"))
    ok(*at(appended, "ingest", str(pack)))
    got = js(*at(appended, "show", "prune:3"))
    assert (got["description"], got["origin"]) == ("Two.", "pack:p@1#2")


def test_a_tools_db_description_column_becomes_the_description(tmp_path: Path) -> None:
    db = tmp_path / "tools.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE tools (name TEXT, code TEXT, description TEXT)")
        long = "A long one.\n\nWith a second paragraph " + "x" * 1100
        conn.executemany(
            "INSERT INTO tools VALUES (?, ?, ?)",
            [
                ("given", "#!/bin/sh\n# From the header.\n", "From the\ncolumn."),
                ("header", "#!/bin/sh\n# From the header.\n#\n# Usage: header\n", None),
                ("long", "echo long\n", long),
                ("blank", "echo blank\n", "  "),
            ],
        )
        conn.commit()
    ok("migrate-legacy", "--tools-db", str(db))
    shown = {n: js("show", n) for n in ("given", "header", "long", "blank")}
    assert (shown["given"]["description"], shown["given"]["message"]) == ("From the column.", None)
    assert shown["given"]["usage"] is None  # a description was given: the header's usage
    assert (shown["header"]["description"], shown["header"]["usage"]) == (
        "From the header.",
        "Usage: header",
    )
    assert len(shown["long"]["description"]) <= MAX_DESCRIPTION
    assert shown["long"]["message"] == long  # cut: kept whole as the message too
    assert shown["blank"]["description"] is None
    assert js("verify")["ok"] is True


# -- verify and signatures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"), [("description", "Something else."), ("usage", "Usage: rm -rf /")]
)
def test_verify_names_a_changed_description_or_usage(vault: Vault, column: str, value: str) -> None:
    vault.publish("prune", PRUNE)
    vault.publish("bare", "echo bare\n")  # none: setting one later is a change too
    drop_triggers(vault, "versions")
    for name in ("prune", "bare"):
        raw(vault, f"UPDATE versions SET {column} = '{value}' WHERE name = '{name}'")
    found = {(p.kind, p.name): p.detail for p in vault.verify().problems}
    for name in ("prune", "bare"):
        assert found[("tampered", name)].startswith("description (description, usage) differs")


def test_a_signed_description_changed_fails_its_signature(tmp_path: Path, home: Path) -> None:
    ok("keys", "generate", "laptop")
    ok("add", str(write(tmp_path / "prune.sh", PRUNE)), "--sign", "laptop")
    assert js("show", "prune")["signature_status"] == "valid (key laptop)"
    with closing(sqlite3.connect(home / "vault.db")) as db:
        db.execute("DROP TRIGGER versions_immutable_update")
        db.execute("UPDATE versions SET description = 'Harmless, honest.'")
        db.commit()
    assert js("show", "prune")["signature_status"].startswith("INVALID")
    result = tv("verify", "--json")
    assert result.exit_code == 1
    details = {p["kind"]: p["detail"] for p in json.loads(result.stdout)["problems"]}
    assert details["signature"].endswith(": description changed")


OLD_SIGNED = (
    "name",
    "version",
    "sha256",
    "previous_sha256",
    "created_at",
    "created_by",
    "owner",
    "origin",
    "prompt",
    "references",
)


def test_versions_without_them_sign_and_digest_the_bytes_they_did_before(
    vault: Vault, home: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from toolvault.signing import decode_public

    vault.generate_key("laptop")
    vault.publish_many([NewVersion("bare", b"echo bare\n")], sign_with="laptop")
    v = vault.get("bare")
    assert (v.description, v.usage) == (None, None) and v.signature
    # what toolvault signed before descriptions: these ten fields, nothing else
    old = canonical(
        {k: list(v.references) if k == "references" else getattr(v, k) for k in OLD_SIGNED}
    )
    (key,) = [k for k in vault.trusted_keys() if k.name == "laptop"]
    public = Ed25519PublicKey.from_public_bytes(decode_public(key.public_key))
    public.verify(base64.b64decode(v.signature), old)  # raises if not
    # and the audit entry's digest of every field: the twenty of before
    later = ("description", "usage", "claimed_by")  # claimed_by: migration 9, as unset
    fields = [getattr(v, f) for f in v.to_dict() if f not in later]
    (entry,) = [e for e in vault.audit("bare") if e.action == "publish"]
    assert entry.details["fields"] == digest(
        [*fields[:15], v.references, v.transforms, *fields[17:]]
    )


def test_a_pack_from_before_descriptions_imports_and_verifies(tmp_path: Path, home: Path) -> None:
    public = ok("keys", "generate", "laptop").stdout.strip()
    ok("add", str(write(tmp_path / "bare.sh", "echo bare\n")), "--sign", "laptop")
    ok("add", str(write(tmp_path / "bare.sh", "echo bare 2\n")))
    pack = tmp_path / "new.tar.gz"
    ok("pack", "export", "--all", "-o", str(pack), "--pack-name", "old")
    doc = manifest(pack)
    for v in doc["tools"]:  # as a toolvault from before wrote it
        assert v["metadata"].pop("description") is None and v["metadata"].pop("usage") is None
    old = rebuild(pack, tmp_path / "old.tar.gz", {"toolpack.json": json.dumps(doc).encode()})
    target = tmp_path / "target"
    ok(*at(target, "trust", "add", "laptop", public))
    ok(*at(target, "ingest", str(old)))
    assert js(*at(target, "show", "bare:1"))["signature_status"] == "valid (key laptop)"
    assert js(*at(target, "verify"))["ok"] is True
    assert js(*at(target, "versions", "bare")) == js("versions", "bare")


# -- the HTTP API and the remote client --------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    home = tmp_path_factory.mktemp("api") / "home"
    token = make_token(home, "alice")
    daemon = Daemon(home)
    try:
        yield daemon, token
    finally:
        daemon.stop()


def test_the_api_publishes_and_shows_them(api: tuple[Daemon, str]) -> None:
    daemon, token = api
    body = {"description": "Given over HTTP.", "usage": "Usage: h\n  -v  loud"}
    assert daemon.publish(token, "httpd", PRUNE, **body).status_code == 200
    shown = daemon.call("GET", "/v1/versions/httpd:1", token).json()
    assert (shown["description"], shown["usage"]) == (body["description"], body["usage"])
    tools = {t["name"]: t for t in daemon.call("GET", "/v1/tools", token).json()}
    assert tools["httpd"]["description"] == "Given over HTTP."
    bad = daemon.publish(token, "httpd", PRUNE + "#\n", description="a\nb")
    assert "description holds the control character U+000A" in error(bad, 400, "invalid_input")


def test_the_remote_client_shows_them(
    api: tuple[Daemon, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon, token = api
    monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", token)
    src = write(tmp_path / "remote.sh", PRUNE)
    ok("add", str(src), "--usage", "Usage: remote")
    shown = js("show", "remote")
    assert (shown["description"], shown["usage"]) == ("Delete merged branches.", "Usage: remote")
    assert {t["name"]: t["description"] for t in js("ls")}["remote"] == "Delete merged branches."
    assert "- description: Delete merged branches." in ok("context", "remote").stdout


UNKNOWN = [
    ("GET", "/v1/tools?q=csv"),
    ("GET", "/v1/tools?all=true&limit=3&page=2"),  # limit is a page parameter; page is not
    ("GET", "/v1/tools/httpd?verbose=1"),
    ("GET", "/v1/tools/httpd/versions?since=1"),
    ("GET", "/v1/versions/httpd:1?fields=description"),
    ("GET", "/v1/content/httpd:1?raw=1"),
    ("GET", "/commands/httpd?x="),
    ("GET", "/commands/httpd:versions?json=1"),
    ("GET", "/v1/refs/httpd:1?reverse=true&depth=2&deep=2"),
    ("GET", "/v1/diff?old=httpd:1&colour=never"),
    ("GET", "/v1/audit?tool=httpd&limit=1&cursor=1"),
    ("GET", "/v1/verify?fast=1"),
    ("POST", "/v1/publish?dry_run=1"),
    ("POST", "/v1/yank?force=1"),
    ("GET", "/healthz?probe=1"),
]


@pytest.mark.parametrize(("method", "path"), UNKNOWN, ids=[p for _, p in UNKNOWN])
def test_unknown_query_parameters_are_400_everywhere(
    api: tuple[Daemon, str], method: str, path: str
) -> None:
    daemon, token = api
    if daemon.call("GET", "/v1/tools/httpd", token).status_code == 404:
        daemon.publish(token, "httpd", PRUNE)
    before = daemon.call("GET", "/v1/audit", token).json()
    response = daemon.call(method, path, token, json={"items": []} if method == "POST" else None)
    message = error(response, 400, "invalid_input")
    unknown = path.split("?")[1].split("&")[-1].split("=")[0]
    assert f"does not take the query parameter(s) '{unknown}'" in message
    assert "(see /openapi.json)" in message
    assert daemon.call("GET", "/v1/audit", token).json() == before


def test_known_query_parameters_still_work(api: tuple[Daemon, str]) -> None:
    daemon, token = api
    if daemon.call("GET", "/v1/tools/httpd", token).status_code == 404:
        daemon.publish(token, "httpd", PRUNE)
    assert daemon.call("GET", "/v1/tools?all=true", token).status_code == 200
    assert daemon.call("GET", "/v1/audit?tool=httpd", token).status_code == 200
    assert daemon.call("GET", "/v1/refs/httpd:1?reverse=true", token).status_code == 200
    message = error(daemon.call("GET", "/v1/tools?q=csv", token), 400, "invalid_input")
    assert "it takes all" in message
    assert "it takes no query parameters" in error(
        daemon.call("GET", "/v1/content/httpd?x=1", token), 400, "invalid_input"
    )


# -- data written by the toolvault before descriptions (8878aa3, schema 6) ---------------------

BEFORE = Path(__file__).parent / "data" / "before-descriptions"


def test_a_vault_from_before_upgrades_and_its_signatures_still_verify(home: Path) -> None:
    """vault.sql is the dump of a vault made by the toolvault of commit 8878aa3 (prune:1 and
    prune:2 signed by key release, plain:1 unsigned), with its signed checkpoint."""
    home.mkdir(exist_ok=True)
    with closing(sqlite3.connect(home / "vault.db")) as db:
        db.executescript((BEFORE / "vault.sql").read_text())
    (home / "checkpoint").write_bytes((BEFORE / "checkpoint").read_bytes())
    ok("sync")  # commands/ is derived: rebuilt here
    assert js("verify")["ok"] is True
    for spec in ("prune:1", "prune:2"):
        shown = js("show", spec)
        assert shown["signature_status"] == "valid (key release)"
        assert (shown["description"], shown["usage"]) == (None, None)  # never made up later
    assert js("show", "plain")["signature_status"] == "unsigned"


def test_a_pack_from_before_imports_and_its_signatures_still_verify(
    tmp_path: Path, home: Path
) -> None:
    """before.tar.gz: ``pack export --all --sign release`` by the toolvault of 8878aa3."""
    ok("trust", "add", "release", (BEFORE / "release.pub").read_text().strip())
    result = ok("ingest", str(BEFORE / "before.tar.gz"))
    assert "3 version(s) added" in result.stdout and "warning" not in result.stderr
    assert js("show", "prune:1")["signature_status"] == "valid (key release)"
    assert js("show", "prune:1")["description"] is None  # restored as it was
    ok("add", str(write(tmp_path / "prune.sh", PRUNE)))  # the next one has them
    assert js("show", "prune:3")["description"] == "Delete merged branches."
    assert js("verify")["ok"] is True


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("description", "line one\nline two", "description holds the control character U+000A"),
        ("description", "\x1b]0;owned\x07", "description holds the control character U+001B"),
        ("description", "d" * (MAX_DESCRIPTION + 1), "description is 1,025 characters long"),
        ("usage", "u" * (MAX_USAGE + 1), "usage is 8,193 bytes of UTF-8"),
        ("usage", 42, "metadata of prune:1 has a field of the wrong type"),
    ],
)
def test_a_pack_with_bad_ones_is_refused_and_nothing_is_written(
    tmp_path: Path, field: str, value: Any, words: str
) -> None:
    ok("add", str(write(tmp_path / "prune.sh", PRUNE)))
    pack = tmp_path / "p.tar.gz"
    ok("pack", "export", "--all", "-o", str(pack), "--pack-name", "p")
    doc = manifest(pack)
    doc["tools"][0]["metadata"][field] = value
    bad = rebuild(pack, tmp_path / "bad.tar.gz", {"toolpack.json": json.dumps(doc).encode()})
    target = tmp_path / "target"
    ok(*at(target, "init"))
    before = sorted(p.name for p in target.rglob("*"))
    result = tv(*at(target, "ingest", str(bad)))
    assert result.exit_code == 2, result.output
    assert_one_line_error(result, words)
    assert js(*at(target, "ls")) == [] and sorted(p.name for p in target.rglob("*")) == before
