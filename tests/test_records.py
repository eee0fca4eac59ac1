"""``toolvault.records.NamedTuple``: typing.NamedTuple's class syntax without importing
typing (the refs --depth fast path loads the lineage graph's shapes), making the class
typing would make."""

from __future__ import annotations

import pickle
import typing

from toolvault import records
from toolvault.lineage_graph import Edge, Node


class Light(records.NamedTuple):
    """A point."""

    x: int
    label: str | None

    def shown(self) -> str:
        """Both values."""
        return f"{self.x}/{self.label}"

    @property
    def double(self) -> int:
        """Twice x."""
        return 2 * self.x

    @classmethod
    def origin(cls) -> Light:
        """The point at 0."""
        return cls(0, None)


class Typed(typing.NamedTuple):
    """A point."""

    x: int
    label: str | None

    def shown(self) -> str:
        """Both values."""
        return f"{self.x}/{self.label}"

    @property
    def double(self) -> int:
        """Twice x."""
        return 2 * self.x

    @classmethod
    def origin(cls) -> Typed:
        """The point at 0."""
        return cls(0, None)


def test_the_class_is_the_one_typing_makes() -> None:
    light, typed = Light(3, "a"), Typed(3, "a")
    assert Light._fields == Typed._fields == ("x", "label")
    assert repr(light) == repr(typed).replace("Typed", "Light")
    assert light == typed == (3, "a") and hash(light) == hash(typed)
    assert (light.shown(), light.double, Light.origin()) == ("3/a", 6, (0, None))
    assert isinstance(Light.origin(), Light) and isinstance(light, tuple)
    assert Light(x=1, label="b")._replace(x=2) == Light._make([2, "b"])
    assert light._asdict() == {"x": 3, "label": "a"}
    assert Light.__doc__ == "A point." and Light.__module__ == __name__
    assert Light.__annotations__ == {"x": "int", "label": "str | None"}
    assert pickle.loads(pickle.dumps(light)) == light
    assert type(pickle.loads(pickle.dumps(light))) is Light


def test_the_lineage_shapes_are_made_so_and_keep_their_methods() -> None:
    edge = Edge("a:1@sha256:" + "0" * 64, "b", "dangling", "b")
    assert not edge.reaches and edge.to_dict()["from"] == edge.source
    node = Node._make(["r", "n", 1, "s", "t", None, None, None, None, None, None, 0, False])
    assert node.to_dict()["ref"] == "r" and Node.__doc__
    assert tuple.__new__(Node, tuple(node)) == node
