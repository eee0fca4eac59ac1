"""``class Point(NamedTuple): x: int`` without importing :mod:`typing`.

The lineage graph's shapes (:mod:`toolvault.lineage_graph`) are named tuples, and the
``refs --depth`` fast path loads them; :mod:`typing` alone cost it a fiftieth of its
time. Type checkers see :class:`typing.NamedTuple` (the module that uses this one
imports it so under ``TYPE_CHECKING``); at run time this makes the same class: a
:func:`collections.namedtuple` of the annotated fields, in their order, with the class
body's methods, properties and docstring. Fields with defaults are not supported.
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What a class body holds that is not the class's own (as typing.NamedTuple skips them)
SKIPPED = frozenset({"__module__", "__qualname__", "__annotations__", "__dict__"})


class _Maker(type):
    def __new__(cls, name: str, bases: tuple[type, ...], body: dict[str, Any]) -> Any:
        if not bases:  # NamedTuple itself
            return super().__new__(cls, name, bases, body)
        fields = list(body.get("__annotations__", {}))
        made = namedtuple(name, fields, module=body["__module__"])  # type: ignore[misc]
        for key, value in body.items():
            if key not in SKIPPED:
                setattr(made, key, value)
        made.__annotations__ = dict(body.get("__annotations__", {}))
        return made


class NamedTuple(metaclass=_Maker):
    """The base of a named tuple class (see the module)."""
