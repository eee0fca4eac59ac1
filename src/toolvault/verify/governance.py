"""The governance replay: labels, yanks, owners, maintainers, lifecycles and trusted keys rebuilt
from the audit log and compared with the tables (with :mod:`toolvault.verify.history`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from toolvault.models import Label, Problem, TrustedKey, Yank
from toolvault.verify.audit import VERSION_ACTIONS


@dataclass(frozen=True, slots=True)
class Governance:
    """The governance tables, read once in the first part's snapshot."""

    labels: list[Label]
    yanks: list[Yank]
    tools: list[tuple[str, str, str]]  # (name, owner, lifecycle)
    trusted: list[TrustedKey]
    history: list[tuple[str, str, str | None]]  # (name, created_at, lifecycle_message)
    pack_imports: list[tuple[str, int, str, str]]  # (name, version, manifest sha, source)
    # (name, principal, granted_at, granted_by): the maintainers (SPEC §11)
    grants: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (id, what the hook-add entry states of it): the webhook endpoints (SPEC §15)
    hooks: list[tuple[str, str]] = field(default_factory=list)


class Replay:
    """The governance state the audit log implies, rebuilt entry by entry."""

    def __init__(self) -> None:
        self.labels: dict[tuple[str, str], int] = {}
        self.yanks: dict[tuple[str, int], str] = {}
        self.owners: dict[str, str] = {}
        self.lifecycles: dict[str, str] = {}
        self.trust: dict[str, str] = {}
        self.grants: dict[tuple[str, str], str] = {}
        self.hooks: dict[str, str] = {}

    def apply(self, action: str, tool: str | None, version: int | None, d: Any) -> None:
        """Fold one entry into the state."""
        handler = getattr(self, "on_" + action.replace("-", "_"), None)
        if handler is not None and isinstance(d, dict):
            handler(tool or "", version, d)

    def on_publish(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.owners.setdefault(tool, str(d.get("owner", "")))

    on_adopt = on_publish

    def on_label(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.labels[(tool, str(d.get("label")))] = int(d.get("version", 0))

    def on_unlabel(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.labels.pop((tool, str(d.get("label"))), None)

    def on_yank(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.yanks[(tool, version or 0)] = str(d.get("reason"))

    def on_owner(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.owners[tool] = str(d.get("to"))

    def on_grant(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.grants[(tool, str(d.get("principal")))] = _granted(
            d.get("granted_by"), d.get("granted_at")
        )

    def on_revoke(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.grants.pop((tool, str(d.get("principal"))), None)

    def on_hook_add(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        events, tools = d.get("events") or [], d.get("tools") or []
        self.hooks[str(d.get("id"))] = _hooked(d.get("url"), events, tools, d.get("key_id"))

    def on_hook_remove(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.hooks.pop(str(d.get("id")), None)

    def on_deprecate(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.lifecycles[tool] = "deprecated"

    def on_retire(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.lifecycles[tool] = "retired"

    def on_reactivate(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.lifecycles[tool] = "active"

    def on_trust_add(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.trust[str(d.get("name"))] = str(d.get("key_id"))

    def on_trust_remove(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.trust.pop(str(d.get("name")), None)

    def on_import(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        """A pack import states the resulting owner and lifecycle of every tool it touched,
        and the labels and yanks it restored."""
        for name, state in (d.get("tools") or {}).items():
            self.owners[name] = str(state.get("owner"))
            self.lifecycles[name] = str(state.get("lifecycle"))
        for lab in d.get("labels") or ():
            self.labels[(lab["name"], lab["label"])] = int(lab["version"])
        for y in d.get("yanks") or ():
            self.yanks[(y["name"], int(y["version"]))] = str(y["reason"])

    on_recover = on_import  # a rebuild from the tree states the same (toolvault.recovery)


def check_governance(
    state: Governance,
    events: Iterable[tuple[str, str | None, int | None, dict[str, Any]]],
    firsts: dict[str, str] | None = None,
) -> list[Problem]:
    """Labels, yanks, owners, maintainers, lifecycles and trusted keys are what the audit
    log says;
    so are the tools' creation times and lifecycle messages and the pack imports
    (:mod:`toolvault.verify.history`; ``firsts``: each tool's version 1's recorded_at)."""
    from toolvault.verify.history import ToolHistory

    replay, history = Replay(), ToolHistory()
    owners = replay.owners
    for action, tool, version, details in events:
        history.apply(action, tool, details)
        if action in VERSION_ACTIONS and isinstance(details, dict):  # most of them, by far
            owners.setdefault(tool or "", str(details.get("owner", "")))  # as on_publish
        else:
            replay.apply(action, tool, version, details)
    return (
        _compare("label", {(lb.name, lb.label): lb.version for lb in state.labels}, replay.labels)
        + _compare("yank", {(y.name, y.version): y.reason for y in state.yanks}, replay.yanks)
        + _compare("owner", {name: owner for name, owner, _ in state.tools}, replay.owners)
        + _compare(
            "lifecycle",
            {name: lifecycle for name, _, lifecycle in state.tools},
            {name: replay.lifecycles.get(name, "active") for name, _, _ in state.tools},
        )
        + _compare("trust", {k.name: k.key_id for k in state.trusted}, replay.trust)
        + _compare(
            "grant", {(g[0], g[1]): _granted(g[3], g[2]) for g in state.grants}, replay.grants
        )
        + _compare("hook", dict(state.hooks), replay.hooks)
        + history.problems(state.history, state.pack_imports, firsts or {})
    )


def _compare(kind: str, have: dict[Any, Any], want: dict[Any, Any]) -> list[Problem]:
    if have == want:  # the usual case, settled in one step
        return []
    problems = []
    for key in sorted(set(have) | set(want), key=str):
        if have.get(key) == want.get(key):
            continue
        name = key[0] if isinstance(key, tuple) else key
        version = key[1] if isinstance(key, tuple) and isinstance(key[1], int) else None
        if kind == "trust":
            name = None
        detail = (
            f"{kind} {_show(key)} is {have.get(key, 'absent')!r} in the database "
            f"but {want.get(key, 'absent')!r} according to the audit log"
        )
        problems.append(Problem(kind, name, version, detail))
    return problems


def _granted(by: Any, at: Any) -> str:
    """A grant as the replay compares it: who granted it and when (the row's fields)."""
    return f"granted by {by} at {at}"


def hook_state(
    hook_id: str, url: str, events: str, tools: str, key_id: str | None, key: str | None
) -> tuple[str, str]:
    """A ``hooks`` row as the replay compares it (events and tools as stored, JSON)."""
    from toolvault.store.sql import json_list

    signing = key_id if key else None
    return hook_id, _hooked(url, list(json_list(events)), list(json_list(tools)), signing)


def _hooked(url: Any, events: Any, tools: Any, key_id: Any) -> str:
    """A webhook as the replay compares it: where it goes, what it gets, how it signs."""
    signing = f"v1a key {key_id}" if key_id else "v1"
    chosen = f"events={','.join(map(str, events)) or '*'} tools={','.join(map(str, tools)) or '*'}"
    return f"{url} {chosen} {signing}"


def _show(key: Any) -> str:
    return ":".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
