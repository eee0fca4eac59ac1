"""``refs SPEC --depth N|all [--reverse] [--json]`` against a daemon (``TOOLVAULT_URL``) on
the fast path: the daemon's ``GET /v1/refs/SPEC?depth=`` answer, printed as ``cli/lineage.py``
prints the graph :class:`~toolvault.client.RemoteVault` rebuilds from it (the same bytes
as on a local vault), without click, the client or the service.

A graph of 10,000 versions is 8 MB printed. With ``--json`` the daemon is asked for
the text the command prints (``Accept: application/json; indent=2``): it is parsed once
and held to a graph's shape (:mod:`toolvault.lineage_shape`), then printed as it came,
not encoded again (which cost more than the parse). A daemon that answers compact JSON
has its graph rebuilt in C (:meth:`Lineage.from_dict
<toolvault.lineage_graph.Lineage.from_dict>`) and written as it is encoded
(:func:`toolvault.lineage_json.pieces`), as the text tree is. Anything but a plain
answer (an error status, an unreachable daemon, a depth the command refuses, a body
that is not UTF-8 JSON of a graph) falls back, having printed nothing, for the full
command line to ask again and explain.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode

from toolvault.fastcli.base import Fallback
from toolvault.fastcli.render import Out


def refs(url: str, spec: str, flags: set[str], out: Out) -> None:
    """Print the lineage graph the daemon at ``url`` answers for ``spec``. The cyclic
    garbage collector is off meanwhile, as on a local vault (:mod:`.graph`): the parse
    makes hundreds of thousands of objects, none in a cycle."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        _refs(url, spec, flags, out)
    finally:
        if enabled:
            gc.enable()


def _refs(url: str, spec: str, flags: set[str], out: Out) -> None:
    import json

    from toolvault import fastremote, lineage_json
    from toolvault.errors import ToolvaultError
    from toolvault.lineage_graph import Lineage, parse_depth, render_tree

    (depth,) = [f.split("=", 1)[1] for f in flags if f.startswith("--depth=")]
    try:
        limit = parse_depth(depth)  # refused before a request, as RemoteVault does
    except ToolvaultError:
        raise Fallback from None
    query = {"depth": "all" if limit is None else str(limit)}
    if "--reverse" in flags:
        query["reverse"] = "true"
    path = f"/v1/refs/{quote(spec, safe=':@')}?{urlencode(query)}"
    token = os.environ.get("TOOLVAULT_TOKEN")
    as_json = "--json" in flags
    try:
        found = fastremote.get(
            url, token, path, fastremote.TIMEOUT, INDENTED if as_json else ACCEPT
        )
    except TimeoutError as exc:
        raise SystemExit(_unreachable(url, exc, as_json)) from None
    if found is None or found[0] != 200:
        raise Fallback
    try:
        text = found[2].decode("utf-8")  # not json.loads' guess: UTF-16 would print as it came
        data = json.loads(text)
        printable = as_json and text.startswith(PRINTED) and _printable(data)
        graph = None if printable else Lineage.from_dict(data)
    except (ValueError, RecursionError):  # not JSON, or not a graph (or nested too deep to
        # be one): the client says what the daemon answered
        raise Fallback from None
    if graph is None:  # the daemon's text is the one printed locally: checked, not encoded
        out.verbatim(text, found[2])
    elif as_json:  # a daemon that answers compact JSON
        out.stream(lineage_json.pieces(graph))
    else:
        out.echo(render_tree(graph), nl=False)


ACCEPT = {"Accept": "application/json"}  # as RemoteVault asks
INDENTED = {"Accept": "application/json; indent=2"}  # as refs --json prints it
PRINTED = '{\n  "root": '  # how that text starts (a daemon that ignores indent=2: '{"root":')


def _printable(data: object) -> bool:
    """Whether the daemon's answer is a graph (:class:`~toolvault.lineage_shape.NotAGraph`
    if not) whose text may be printed as it came: indented as the command prints, each
    object with exactly its keys. A daemon that sent it compact (from before it read
    ``indent=2``), or with keys this version leaves out, has it encoded again."""
    from toolvault import lineage_shape as shape
    from toolvault.lineage_graph import NODE_FIELDS

    shape.check_top(data)
    assert isinstance(data, dict)
    return shape.printable(data, NODE_FIELDS)


def _unreachable(url: str, exc: TimeoutError, as_json: bool) -> int:
    """Report a daemon that did not answer in time as the full command line does (asking
    again would wait as long again); the exit code."""
    from toolvault.cli.failures import report_error
    from toolvault.errors import Unreachable

    return report_error(Unreachable.daemon(url.rstrip("/"), exc), as_json)
