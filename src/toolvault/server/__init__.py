"""The HTTP daemon (``toolvault serve``): FastAPI over the :class:`~toolvault.Vault` service.

Importing this package imports FastAPI; only ``toolvault serve`` (and tests)
do, so the core and the command line stay free of it.
"""

from toolvault.server.app import MAX_BODY, create_app

__all__ = ["MAX_BODY", "create_app"]
