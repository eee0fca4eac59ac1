"""``verify``: the checks of SPEC §6, apart from the machinery that shares them out.

Importing this package imports none of its modules: ``Vault.verify``
(:mod:`toolvault.service.verifying`) imports what it runs.
"""
