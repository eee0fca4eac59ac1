"""The audit log a page at a time (filters in the database), the hash chain's state kept
as a verified prefix (only new entries checked on a view, yet a tampered entry still
shows), and verify's last report kept in the home: the service calls, over both stores."""

from __future__ import annotations

import json

import pytest

from conftest import drop_triggers, raw
from toolvault import Vault
from toolvault.errors import InvalidInput
from toolvault.lastverify import FILENAME
from toolvault.service import auditviews


def fill(vault: Vault) -> None:
    """Twelve audit entries: publishes by alice and bob, labels, a yank."""
    for i in range(1, 5):
        vault.publish("fmt", f"#!/bin/sh\necho fmt {i}\n", created_by="alice")
        vault.publish("csvsum", f"#!/bin/sh\necho sum {i}\n", created_by="bob")
    vault.label("fmt:2", "stable")
    vault.label("csvsum:3", "stable")
    vault.yank("fmt:1", "wrong")


def tamper(vault: Vault, seq: int) -> None:
    """Edit one entry's details behind the log's back (its hash no longer covers it)."""
    drop_triggers(vault, "audit")
    raw(vault, "UPDATE audit SET details = ? WHERE seq = ?", ('{"edited":true}', seq))


def test_a_page_of_the_log_is_filtered_and_paged_in_the_database(vault: Vault) -> None:
    fill(vault)
    whole = vault.audit()
    page = vault.audit_page(limit=5)
    assert page.total == len(whole) and page.more
    assert [e.seq for e in page.entries] == [e.seq for e in whole[::-1][:5]]
    second = vault.audit_page(limit=5, offset=5)
    assert [e.seq for e in second.entries] == [e.seq for e in whole[::-1][5:10]]
    oldest = vault.audit_page(limit=3, newest_first=False)
    assert oldest.entries == tuple(whole[:3])
    labels = vault.audit_page(action="label")
    assert [(e.tool, e.action) for e in labels.entries] == [("csvsum", "label"), ("fmt", "label")]
    about_fmt = vault.audit_page(tool="fmt", action="publish", limit=2)
    assert about_fmt.total == 4 and [e.version for e in about_fmt.entries] == [4, 3]
    assert vault.audit_page(actor="nobody").total == 0
    assert vault.audit_page(tool="fmt", limit=None).entries == tuple(vault.audit("fmt")[::-1])


@pytest.mark.parametrize(
    ("kw", "says"),
    [({"limit": 0}, "limit 1 to 1,000"), ({"limit": 1001}, "limit 1 to 1,000"),
     ({"offset": -1}, "offset must be 0"), ({"limit": "5"}, "limit"), ({"tool": "a b"}, "a b"),
     ({"actor": 5}, "actor")],
)  # fmt: skip
def test_a_bad_page_is_refused(vault: Vault, kw: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        vault.audit_page(**kw)  # type: ignore[arg-type]


def test_the_chain_state_checks_only_new_entries_and_still_sees_a_tampered_one(
    vault: Vault,
) -> None:
    fill(vault)
    first = vault.chain_state()
    assert first.ok and first.seq == len(vault.audit())
    assert {"publish", "label", "yank"} <= first.actions
    assert vault.chain_state() is first  # nothing appended: nothing rehashed
    vault.publish("fmt", "#!/bin/sh\necho fmt 5\n")
    grown = vault.chain_state()
    assert grown.ok and grown.seq == first.seq + 1 and grown.full_at == first.full_at
    # an entry appended since the prefix, then edited: checked on the next view
    vault.publish("fmt", "#!/bin/sh\necho fmt 6\n")
    vault.publish("fmt", "#!/bin/sh\necho fmt 7\n")
    tamper(vault, grown.seq + 1)
    broken = vault.chain_state()
    assert not broken.ok and f"audit entry {grown.seq + 1}" in broken.problems[0].detail
    assert vault.chain_state().problems == broken.problems  # broken stays broken


def test_an_edit_of_the_prefix_shows_once_it_is_checked_whole(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(vault)
    assert vault.chain_state().ok
    tamper(vault, 3)  # inside the verified prefix
    # a view that finds nothing appended trusts the prefix (the documented trade-off)
    assert vault.chain_state().ok
    vault.verify_kept()  # a verify drops the prefix: the next view checks the whole chain
    state = vault.chain_state()
    assert [p.detail for p in state.problems] == [
        "audit entry 3: its content does not match its hash (edited)"
    ]
    monkeypatch.setattr(auditviews, "FULL_EVERY", 0.0)  # and so does an old prefix
    assert vault.chain_state() is not state and not vault.chain_state().ok


def test_an_edit_of_the_last_entry_checked_shows_at_once(vault: Vault) -> None:
    fill(vault)
    head = vault.chain_state()
    drop_triggers(vault, "audit")
    raw(vault, "UPDATE audit SET hash = ? WHERE seq = ?", ("0" * 64, head.seq))
    vault.publish("fmt", "#!/bin/sh\necho fmt 5\n")  # its prev_hash is the real one
    assert not vault.chain_state().ok


def test_a_tampered_log_shows_broken_on_a_first_view(vault: Vault) -> None:
    fill(vault)
    tamper(vault, 2)
    auditviews._chains.pop(vault.store, None)  # as a daemon that just started
    assert [p.detail for p in vault.chain_state().problems] == [
        "audit entry 2: its content does not match its hash (edited)"
    ]


def test_the_last_verify_report_is_kept_in_the_home(vault: Vault) -> None:
    fill(vault)
    assert vault.last_verify() is None
    report = vault.verify_kept(["fmt"])
    kept = vault.last_verify()
    assert kept is not None and kept.report == report and kept.names == ("fmt",)
    assert kept.by == "anonymous" and kept.at.endswith("Z")
    on_disk = json.loads((vault.home / FILENAME).read_text())
    assert on_disk["format"] == "toolvault-last-verify/1" and on_disk["report"]["ok"] is True
    # derived state beside vault.db: verify's tree check and sync leave it alone
    assert vault.verify().ok
    vault.sync()
    assert (vault.home / FILENAME).exists() and vault.verify().ok
    assert not list(vault.home.glob(".tmp-*"))  # written whole, renamed into place


@pytest.mark.parametrize(
    "text",
    ["{", "[]", '{"format": "toolvault-last-verify/9"}', '{"format": "toolvault-last-verify/1"}',
     '{"format": "toolvault-last-verify/1", "at": "x", "by": "y", "names": [],'
     ' "report": {"checked": {}, "problems": [{"nope": 1}]}}', "\udcff"],
)  # fmt: skip
def test_a_damaged_report_file_reads_as_none(vault: Vault, text: str) -> None:
    (vault.home / FILENAME).write_bytes(text.encode("utf-8", "surrogateescape"))
    assert vault.last_verify() is None
