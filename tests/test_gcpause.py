"""The collector paused during a lineage walk (:mod:`toolvault.gcpause`): off inside, as
it was after, however walks overlap in the daemon's threads or end in an error."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from test_lineage_graph import chain
from toolvault import Vault
from toolvault.errors import InvalidInput
from toolvault.gcpause import paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_off_inside_and_as_it_was_after() -> None:
    with paused():
        assert not gc.isenabled()
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one leaving does not turn it on
    assert gc.isenabled()
    gc.disable()  # someone else turned it off: it stays off
    with paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_threads_turn_it_on_only_when_the_last_leaves() -> None:
    entered, leave_first = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with paused():
            entered.set()
            leave_first.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert entered.wait(10)
    with paused():
        leave_first.set()
        thread.join(10)
        seen.append(gc.isenabled())  # the first has left; this one is still inside
    assert seen == [False]
    assert gc.isenabled()


def test_a_walk_runs_with_it_off_and_leaves_it_on(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = chain(vault, 12, 2)
    during: list[bool] = []
    real = vault.store.lineage_closure

    def closure(*args: Any) -> Any:
        during.append(gc.isenabled())
        return real(*args)

    monkeypatch.setattr(vault.store, "lineage_closure", closure)
    assert len(vault.lineage(refs[-1], "all").nodes) == 12
    assert during == [False] and gc.isenabled()
    with pytest.raises(InvalidInput):  # too many versions: refused, and on again after
        vault.lineage(refs[-1], "all", max_nodes=5)
    assert gc.isenabled()
