"""``verify``: the checks of SPEC §6, apart from the machinery that shares them out.

Each check returns :class:`~toolvault.models.Problem` records naming the kind, the
tool, the version and what is wrong, so that a report says exactly where.

A vault is checked in *parts*: each part is a range of tool names (with their
versions' blobs) and of audit sequence numbers, read in one snapshot and checked on
its own. When the machine has the cores for it, a few processes (this one and forked
children) take the parts one after another from a shared queue until none is left, so
that a process slowed down by the machine takes fewer. The checks that need the whole
vault — each version against the audit entry that recorded it, the governance replay,
the entries of ``commands/`` that are no tool — run once over what the parts return.
One part covering everything is the plain serial check.

The checks (functions over rows and files; no process, queue or pickling):

- :mod:`.checks`: blobs, each tool's chain, signatures, and what the ``commands/``
  tree should show (compared by :mod:`toolvault.materialize`);
- :mod:`.audit`: the audit log's hash chain, and what each entry records;
- :mod:`.recorded`: each version against the digests its audit entry took;
- :mod:`.governance`: labels, yanks, owners, lifecycles and trusted keys replayed from
  the log; :mod:`.history`: tools' creation and lifecycle messages, and pack imports.

The machinery: :mod:`.part_check` checks one part from one snapshot;
:mod:`.sharing` plans the parts, runs them in processes and packs what they found;
:mod:`.merge` puts the parts' findings together. ``Vault.verify``
(:mod:`toolvault.service.verifying`) drives them, and checks the signed checkpoints
(:mod:`toolvault.checkpoints`) once.

Importing this package imports none of its modules.
"""
