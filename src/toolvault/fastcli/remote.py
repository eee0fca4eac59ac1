"""``refs SPEC --depth N|all [--reverse] [--json]`` against a daemon (``TOOLVAULT_URL``) on
the fast path: the daemon's ``GET /v1/refs/SPEC?depth=`` answer, printed as ``cli/lineage.py``
prints the graph :class:`~toolvault.client.RemoteVault` rebuilds from it (the same bytes
as on a local vault), without click, the client or the service.

A graph of 10,000 versions is 6.6 MB of JSON from the daemon and 8 MB printed: parsed
once, rebuilt in C (:meth:`Lineage.from_dict <toolvault.lineage_graph.Lineage.from_dict>`)
and written as it is encoded (:func:`toolvault.lineage_json.pieces`). Anything but a
plain answer (an error status, an unreachable daemon, a depth the command refuses, a
body that is not a graph) falls back, for the full command line to ask again and explain.
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
    try:
        found = fastremote.get(url, token, path, fastremote.TIMEOUT, ACCEPT)
    except TimeoutError as exc:
        raise SystemExit(_unreachable(url, exc, "--json" in flags)) from None
    if found is None or found[0] != 200:
        raise Fallback
    try:
        graph = Lineage.from_dict(json.loads(found[2]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Fallback from None  # not a graph: the client says what the daemon answered
    if "--json" in flags:
        out.stream(lineage_json.pieces(graph))
    else:
        out.echo(render_tree(graph), nl=False)


ACCEPT = {"Accept": "application/json"}  # as RemoteVault asks


def _unreachable(url: str, exc: TimeoutError, as_json: bool) -> int:
    """Report a daemon that did not answer in time as the full command line does (asking
    again would wait as long again); the exit code."""
    from toolvault.cli.failures import report_error
    from toolvault.errors import Unreachable

    return report_error(Unreachable.daemon(url.rstrip("/"), exc), as_json)
