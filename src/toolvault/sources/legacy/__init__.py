"""Migration of legacy, unversioned tool stores (SPEC §8, ``toolvault migrate-legacy``).

- :mod:`.toolsdb` — reads a Tools-DB (a SQLite ``tools`` table);
- :mod:`.port42` — reads a Port42 home (Tool relations, ``objects/``, ``commands/``);
- :mod:`.shared` — what every kind of store shares: the items read, planning (chains,
  folding, numbering, references) and the one transaction that applies a plan.
"""

from __future__ import annotations

from toolvault.sources.legacy.port42 import read_port42
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
)
from toolvault.sources.legacy.toolsdb import read_tools_db

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
