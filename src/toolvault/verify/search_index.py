"""The search index against what it is derived from (SPEC §10): every version indexed
once with its hash, and each row's lifecycle, owner, labels, yanked and latest as the
tools, labels and yanks say. The index is derived, so a problem here (kind ``index``)
loses nothing: ``sync`` rebuilds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolvault.models import Problem

SHOWN = 20  # problems reported by row before the rest are counted in one


def index_problems(store: Any, wanted: frozenset[str]) -> tuple[list[Problem], int]:
    """The index's problems (of the ``wanted`` tools, or all) and the rows checked."""
    if not store.has_search_index():
        return [], 0

    def keep(name: str) -> bool:
        return not wanted or name in wanted

    versions = {k: sha for k, sha in store.version_keys().items() if keep(k[0])}
    indexed = {k: sha for k, sha in store.search_keys().items() if keep(k[0])}
    found: list[Problem] = []
    for key in sorted(versions.keys() - indexed.keys()):
        found.append(Problem("index", key[0], key[1], "not in the search index"))
    for key in sorted(indexed.keys() - versions.keys()):
        found.append(Problem("index", key[0], key[1], "in the search index but no version"))
    for key in sorted(versions.keys() & indexed.keys()):
        if versions[key] != indexed[key]:
            found.append(Problem("index", key[0], key[1], "indexed with another sha256"))
    found += _state_problems(store, keep)
    damaged = store.search_text_damaged()
    if damaged:
        found.append(Problem("index", None, None, f"the full-text index is damaged: {damaged}"))
    if len(found) > SHOWN:
        rest = len(found) - SHOWN
        found = [*found[:SHOWN], Problem("index", None, None, f"and {rest:,} more rows")]
    if found:
        found.append(Problem("index", None, None, "the search index is out of step: run sync"))
    return found, len(indexed)


def _state_problems(store: Any, keep: Callable[[str], bool]) -> list[Problem]:
    have, want = store.search_state(), store.search_state_wanted()
    fields = ("lifecycle", "owner", "labels", "yanked", "latest")
    found = []
    for key in sorted(have.keys() & want.keys()):
        if keep(key[0]) and have[key] != want[key]:
            wrong = [f for f, a, b in zip(fields, have[key], want[key], strict=True) if a != b]
            found.append(
                Problem("index", key[0], key[1], f"indexed with a stale {', '.join(wrong)}")
            )
    return found
