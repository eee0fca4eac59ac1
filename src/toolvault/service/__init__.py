"""The service (:class:`toolvault.vault.Vault`) in parts: each module holds one mixin of
methods that ``Vault`` inherits, one module per area.

- :mod:`.base`: what every area shares (the state, finding versions and tools, the audit
  entry of a write, who may write, keeping ``commands/`` in step);
- :mod:`.reads`: tools, versions, listings, ``show``, diffs, lineage;
- :mod:`.publishing`: :class:`~toolvault.service.publishing.NewVersion`, publish, rollback,
  and the building blocks importers write with;
- :mod:`.governance`: labels, yanks, lifecycles, owners;
- :mod:`.grants`: maintainers (grant, revoke, grants);
- :mod:`.keys`: signing keys and the trust store;
- :mod:`.tokens`: the daemon's bearer tokens;
- :mod:`.verifying`: ``verify``, over :mod:`toolvault.verify`;
- :mod:`.imports`: what importers (:mod:`toolvault.sources`) write and read through.

Importing this package imports none of its modules.
"""
