"""Maintainers (SPEC §11): the principals, besides a tool's owner, who may publish, roll
back, label and deprecate it. Granted and revoked by the owner or an admin, audited, and
replayed by ``verify`` like owners (:mod:`toolvault.verify.governance`)."""

from __future__ import annotations

from toolvault import validate
from toolvault.errors import InvalidInput, NotFound, PermissionDenied
from toolvault.models import Grant
from toolvault.service.base import ServiceBase
from toolvault.store.sql import utcnow


def check_principal(principal: object) -> str:
    """A principal as tokens name them: a text without spaces (``token create`` holds
    the same rule), else :class:`InvalidInput` saying what would work."""
    checked = validate.given(validate.PRINCIPAL, principal)
    if any(c.isspace() for c in checked):
        raise InvalidInput(
            f"invalid principal {principal!r}: give a name without spaces, as a token's "
            "principal is ('toolvault token create --principal NAME')",
            {"principal": principal},
        )
    return checked


# Each right, and what it is when only the owner and admins have it (None: a maintainer too).
RIGHTS = {
    "publish": None,
    "label": None,
    "rollback": None,
    "deprecate": None,
    "yank": "yank its versions",
    "retire": "retire it",
    "transfer": "transfer it",
    "grant": "grant maintainer rights",
}


class Grants(ServiceBase):
    """Granting, revoking and listing the maintainers of a tool."""

    # -- maintainers ---------------------------------------------------------------------

    def grants(self, name: str) -> list[Grant]:
        """The maintainers of a tool, by principal (anyone who may read the tool may see
        them: the audit log shows every grant anyway)."""
        return self.store.grants(self.tool(name).name)

    def rights(self, name: str) -> frozenset[str]:
        """What this vault's principal may change of tool ``name``, by the rules every
        write checks: of ``label``, ``rollback``, ``deprecate`` (and undo it), ``publish``
        (those a maintainer has too), ``yank``, ``retire``, ``transfer`` and ``grant``
        (owner and admins). Writes nothing; a vault with no principal (no daemon) may do
        all. The web UI shows the controls of these only."""
        tool = self.tool(name)
        found = set()
        for right, owner_only in RIGHTS.items():
            try:
                self._may_write(tool.owner, tool.name, owner_only)
            except PermissionDenied:
                continue
            found.add(right)
        return frozenset(found)

    def grant(self, name: str, principal: str) -> Grant:
        """Make ``principal`` a maintainer of tool ``name`` (its owner or an admin may);
        granting again changes nothing (``created`` is then false)."""
        principal = check_principal(principal)
        tool = self.tool(name)
        with self.store.write():
            self._may_change(tool.name, "grant maintainer rights")
            owner = self.store.tool_state(tool.name)
            if owner is not None and owner[0] == principal:
                raise InvalidInput(
                    f"{principal} owns '{tool.name}' already, and an owner has every right a "
                    "maintainer has; grant another principal",
                    {"tool": tool.name, "owner": principal},
                )
            had = self.store.grant_of(tool.name, principal)
            if had is not None:
                return Grant(had.name, had.principal, had.granted_at, had.granted_by, False)
            grant = Grant(tool.name, principal, utcnow(), self.actor)
            self.store.insert_grant(grant)
            self.record("grant", tool.name, None, _details(grant))
        return grant

    def revoke(self, name: str, principal: str) -> Grant:
        """Take ``principal``'s maintainer rights on tool ``name`` away (its owner or an
        admin may); returns the grant that was revoked."""
        principal = check_principal(principal)
        tool = self.tool(name)
        with self.store.write():
            self._may_change(tool.name, "revoke maintainer rights")
            had = self.store.grant_of(tool.name, principal)
            if had is None:
                held = ", ".join(g.principal for g in self.store.grants(tool.name)) or "none"
                raise NotFound(
                    f"{principal} is not a maintainer of '{tool.name}' (maintainers: {held}); "
                    f"'toolvault grants {tool.name}' lists them",
                    {"tool": tool.name, "principal": principal},
                )
            self.store.delete_grant(tool.name, principal)
            self.record("revoke", tool.name, None, _details(had))
        return had


def _details(grant: Grant) -> dict[str, str]:
    """What a grant's audit entry states: all of the row, so that verify can hold the
    table to the log field by field."""
    return {
        "principal": grant.principal,
        "granted_at": grant.granted_at,
        "granted_by": grant.granted_by,
    }
