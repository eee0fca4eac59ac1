"""Everything that brings tools in from outside the vault (``toolvault ingest``,
``pack``, ``pull``, ``migrate-legacy``); importers write only through the service
(:class:`toolvault.vault.Vault`), never into the store.

- :mod:`.ingest` — the ``ingest`` entry points, one per kind of source (a local file,
  folder or pack; a URL; a git repository), the ``[sources]`` policy check, and the one
  transaction and audit entry every import is;
- :mod:`.files` — reading a file a user names: a regular file only, never over a limit;
- :mod:`.urls` — safe downloads: schemes, allow-list, redirects, byte and time limits;
- :mod:`.git` — tool files and their history from a git repository;
- :mod:`.archive` — safe in-memory reading of a ``.tar.gz``;
- :mod:`.packs` — the pack format: export, and parsing a pack back with every check;
- :mod:`.pack_import` — importing a parsed pack: trust, no downgrade, restore or append;
- :mod:`.pack_signatures` — the version signatures a pack carries, checked before import;
- :mod:`.legacy` — migration of legacy stores (a Tools-DB, a Port42 home).

The core imports nothing of this package at module level; only ``config.py`` imports
:mod:`.urls` (the allow list's prefix match, the default download deadline), inside
the two functions that need it (``tests/test_layering.py`` holds it to that).

Nothing is imported here, so that ``from toolvault.sources.files import read_regular``
(on ``toolvault add``) loads that module alone.
"""
