"""Which versions a run may start: the one rule for ``run`` (sandboxed or not) and MCP's
``run``.

A yanked version must not be used by accident. ``name``, ``name:latest`` and
``name:-K`` never resolve to one; a label or a content hash can, and following it would
run a version its owner withdrew without anyone having asked for that version. So a
yanked version runs only when named by its number (``name:N``, also as a pinned
``name:N@sha256:…``), with a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolvault.errors import InvalidInput
from toolvault.spec import Kind, parse

if TYPE_CHECKING:
    from toolvault.client import RemoteVault
    from toolvault.models import Version
    from toolvault.vault import Vault


def yank_warning(vault: Vault | RemoteVault, spec: str, version: Version) -> str | None:
    """The warning to print before running a yanked ``version`` that ``spec`` named by
    its number; None when it is not yanked. Raises :class:`InvalidInput` when ``spec``
    reached a yanked version another way (a label, a hash)."""
    yank = vault.yank_of(version)
    if yank is None:
        return None
    short = f"{version.name}:{version.version}"
    if parse(spec).kind is not Kind.NUMBER:
        raise InvalidInput(
            f"{short} (which '{spec}' names) is yanked: {yank.reason}; a yanked version "
            f"runs only when named by its number: 'toolvault run {short}'",
            details={"ref": version.ref, "yanked": yank.reason, "run_as": short},
        )
    return f"{short} is yanked: {yank.reason}"
