"""The service (:class:`toolvault.vault.Vault`) in parts: each module holds one mixin
of methods that ``Vault`` inherits (:mod:`.imports`: what importers write through)."""
