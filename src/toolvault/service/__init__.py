"""The service: the operations of toolvault, as mixins that :class:`toolvault.vault.Vault`
is composed of, one module per area.

- :mod:`.base`: what every area shares (the state, finding versions and tools, the audit
  entry of a write, who may write, keeping ``commands/`` in step);
- :mod:`.reads`: tools, versions, listings, ``show``, diffs, lineage;
- :mod:`.publishing`: :class:`~toolvault.service.publishing.NewVersion`, publish, rollback,
  and the building blocks importers write with;
- :mod:`.governance`: labels, yanks, lifecycles, owners;
- :mod:`.keys`: signing keys and the trust store;
- :mod:`.tokens`: the daemon's bearer tokens;
- :mod:`.verifying`: ``verify``, over :mod:`toolvault.verify`.

Importing this package imports none of its modules.
"""
