"""Migration of legacy, unversioned tool stores (SPEC §8, ``toolvault migrate-legacy``).

- :mod:`.shared` — what every kind of store shares: the items read, planning (chains,
  folding, numbering, references) and the one transaction that applies a plan.
"""

from __future__ import annotations

from toolvault.sources.legacy.shared import (
    Item,
    Plan,
    Planned,
    Source,
    Summary,
    check_folds,
    fold_names,
    folded,
    migrate,
    parse_time,
    plan,
    read_port42,
    read_tools_db,
)

__all__ = [
    "Item",
    "Plan",
    "Planned",
    "Source",
    "Summary",
    "check_folds",
    "fold_names",
    "folded",
    "migrate",
    "parse_time",
    "plan",
    "read_port42",
    "read_tools_db",
]
