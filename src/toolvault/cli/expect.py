"""``add --expect-latest SPEC`` / ``--expect-new``: compare-and-set publishing (SPEC §11).

The command only attaches the expectation to the request of the tool it names; the
service decides inside its write transaction whether it still holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import click

from toolvault import spec as specs
from toolvault.cli._common import warn
from toolvault.errors import InvalidInput
from toolvault.models import Published
from toolvault.vault import NewVersion

F = TypeVar("F", bound=Callable[..., Any])
# Where the two options leave what they were given, in the command's click context: they
# reach the publish without widening add's signature (held to 60 lines like any function).
KEY = "toolvault.expect"


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if param.name:
        ctx.meta.setdefault(KEY, {})[param.name] = value


def expect_options(command: F) -> F:
    """The two options of ``add``."""
    command = click.option(
        "--expect-new",
        is_flag=True,
        expose_value=False,
        callback=_keep,
        help="Publish only if the tool does not exist yet (else stale_base, exit 1).",
    )(command)
    return click.option(
        "--expect-latest",
        "expect_latest",
        multiple=True,
        metavar="SPEC",
        expose_value=False,
        callback=_keep,
        help="Publish only if the tool's latest is still SPEC's version (any spec of it, "
        "e.g. its pinned ref; else stale_base, exit 1, nothing written). One per tool.",
    )(command)


def expecting(items: Sequence[NewVersion]) -> list[NewVersion]:
    """``items`` with the expectations the command was given: each ``--expect-latest``
    to the item of its tool, ``--expect-new`` to every item."""
    given = click.get_current_context().meta.get(KEY, {})
    latest: Sequence[str] = given.get("expect_latest") or ()
    new = bool(given.get("expect_new"))
    if new and latest:
        raise InvalidInput(
            "--expect-latest and --expect-new contradict each other: give --expect-latest to "
            "build on a version of a tool, or --expect-new to create one"
        )
    if new:
        return [replace(item, expect_new=True) for item in items]
    by_tool = _by_tool(latest, {item.name for item in items})
    return [replace(item, expect_latest=by_tool.get(item.name)) for item in items]


def _by_tool(latest: Sequence[str], names: set[str]) -> dict[str, str]:
    """Each ``--expect-latest`` by the tool it names: one of those published, once."""
    by_tool: dict[str, str] = {}
    for spec in latest:
        tool = specs.parse(spec).name
        if tool not in names:
            raise InvalidInput(
                f"--expect-latest {spec} names tool '{tool}', which this add does not "
                f"publish (it publishes {', '.join(sorted(names))})"
            )
        if tool in by_tool:
            raise InvalidInput(
                f"--expect-latest {by_tool[tool]} and {spec} both name '{tool}'; give one"
            )
        by_tool[tool] = spec
    return by_tool


def warn_of(results: Sequence[Published]) -> None:
    """Each publish's warnings on stderr (e.g. built on an older version than the latest)."""
    for result in results:
        for message in result.warnings:
            warn(message)
