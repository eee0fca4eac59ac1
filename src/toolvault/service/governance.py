"""Governance (SPEC §6): labels, yanks, lifecycles and owners, each change audited."""

from __future__ import annotations

from toolvault import spec as specs
from toolvault import validate
from toolvault.errors import Conflict, InvalidInput
from toolvault.models import Label, Tool, Yank
from toolvault.service.base import ServiceBase
from toolvault.spec import Kind, Spec
from toolvault.store.sql import utcnow


def _owner_only(lifecycle: str, current: str) -> str | None:
    """What a lifecycle change is when only the owner and admins may make it (SPEC §11:
    a maintainer deprecates, and undoes that, but neither retires nor brings back)."""
    if lifecycle == "retired":
        return "retire it"
    if lifecycle == "active" and current == "retired":
        return "reactivate a retired tool"
    return None


class Governing(ServiceBase):
    """Labels, yanks, deprecate / retire / reactivate, and ownership transfers."""

    # -- governance ---------------------------------------------------------------------------

    def label(self, spec: str | Spec, label: str) -> Label:
        """Point ``label`` of the spec's tool at the spec's version (create or move)."""
        specs.validate_label(label)
        target = self.get(spec)
        with self.store.write():
            self._may_change(target.name)
            old = self.store.label(target.name, label)
            lab = Label(target.name, label, target.version, utcnow(), self.actor)
            self.store.set_label(lab)
            details = {"label": label, "version": target.version, "from": old and old.version}
            self.record("label", target.name, target.version, details)
        return lab

    def delete_label(self, name: str, label: str) -> None:
        """Remove a label."""
        validate.of_type(label, str, "label", "a text such as 'stable'")
        tool = self.tool(name)
        with self.store.write():
            self._may_change(tool.name)
            old = self.store.label(tool.name, label)
            if old is None:
                raise self._not_found(Spec(tool.name, Kind.LABEL, label))
            self.store.delete_label(tool.name, label)
            self.record("unlabel", tool.name, old.version, {"label": label})

    def yank(self, spec: str | Spec, reason: str) -> Yank:
        """Mark a version as not to be used: latest, previous and -K skip it from now on."""
        if isinstance(reason, str) and not reason.strip():
            raise InvalidInput("a yank needs a reason: --reason 'why it must not be used'")
        validate.given(validate.REASON, reason)
        target = self.get(spec)
        with self.store.write():
            self._may_change(target.name, "yank its versions")
            existing = self.yank_of(target)
            if existing:
                raise Conflict(
                    f"{target.name}:{target.version} is yanked already",
                    {"ref": target.ref, "yanked": existing.reason},
                )
            y = Yank(target.name, target.version, reason, utcnow(), self.actor)
            self.store.yank(y)
            self.record("yank", target.name, target.version, {"reason": reason})
        self.refresh_tree({target.name})
        return y

    def set_lifecycle(self, name: str, lifecycle: str, message: str | None = None) -> Tool:
        """Deprecate, retire or reactivate a tool (retired tools leave PATH, keep history)."""
        actions = {"deprecated": "deprecate", "retired": "retire", "active": "reactivate"}
        if not isinstance(lifecycle, str) or lifecycle not in actions:
            raise InvalidInput(f"lifecycle must be one of {', '.join(actions)}, not {lifecycle!r}")
        validate.text(validate.MESSAGE, message)
        tool = self.tool(name)
        with self.store.write():
            state = self.store.tool_state(tool.name)
            current = state[1] if state else tool.lifecycle
            self._may_change(tool.name, _owner_only(lifecycle, current))
            if tool.lifecycle == lifecycle:
                return tool
            self.store.set_lifecycle(tool.name, lifecycle, message, utcnow())
            self.record(actions[lifecycle], tool.name, None, {"message": message})
        self.refresh_tree({tool.name})
        return self.tool(tool.name)

    def transfer(self, name: str, new_owner: str) -> Tool:
        """Make ``new_owner`` the owner of a tool (audited)."""
        validate.given(validate.OWNER, new_owner)
        tool = self.tool(name)
        with self.store.write():
            self._may_change(tool.name, "transfer it")
            self.store.set_owner(tool.name, new_owner, utcnow())
            self.record("owner", tool.name, None, {"from": tool.owner, "to": new_owner})
        self.refresh_tree({tool.name})
        return self.tool(tool.name)
