"""Webhooks and events (SPEC §15): ``hook add/list/remove/deliveries/redeliver`` (locally
or on the daemon at ``TOOLVAULT_URL``, admin), ``hook deliver`` (a vault without a
daemon: cron or a systemd timer), and ``watch`` (events as they happen)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import click

from toolvault.cli._common import emit_json, json_option, local_only, obj, table, wants_json
from toolvault.events.model import EVENT_TYPES

EVENTS_HELP = f"Only these events (repeatable): {', '.join(EVENT_TYPES)}."


@click.group()
def hook() -> None:
    """Webhooks: signed Standard Webhooks deliveries of every change (admin)."""


@hook.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, metavar="E", help=EVENTS_HELP)
@click.option("--tool", "tools", multiple=True, metavar="NAME", help="Only these tools.")
@click.option("--secret", metavar="whsec_…", help="Sign v1 (HMAC) with this secret.")
@click.option("--sign", metavar="KEY", help="Sign v1a (Ed25519) with this vault key instead.")
@json_option
def hook_add(
    url: str,
    events: tuple[str, ...],
    tools: tuple[str, ...],
    secret: str | None,
    sign: str | None,
    as_json: bool,
) -> None:
    """Deliver events to URL (it must be under [hooks] allow in config.toml).

    Without --secret or --sign a secret is made; it is printed this once and can
    not be read back later.
    """
    made, shown = obj().service().add_hook(url, events, tools, secret=secret, sign=sign)
    if wants_json(as_json):
        emit_json({**made.to_dict(), "secret": shown})
        return
    click.echo(f"webhook {made.id} -> {made.url} ({made.signing})")
    if shown:
        click.echo(shown)
        click.echo(
            "the secret is shown this once; the receiver checks v1 signatures with it", err=True
        )
    elif made.public_key:
        click.echo(f"receivers check v1a signatures with {made.public_key}", err=True)


@hook.command("list")
@json_option
def hook_list(as_json: bool) -> None:
    """List webhooks (never their secrets)."""
    found = obj().service().hooks()
    if wants_json(as_json):
        emit_json([h.to_dict() for h in found])
        return
    rows = [
        [h.id, h.state, h.signing, ",".join(h.events) or "*", ",".join(h.tools) or "*", h.url]
        for h in found
    ]
    table(rows, ["ID", "STATE", "SIGNING", "EVENTS", "TOOLS", "URL"])


@hook.command("remove")
@click.argument("hook_id", metavar="ID")
@json_option
def hook_remove(hook_id: str, as_json: bool) -> None:
    """Remove a webhook with its delivery records."""
    gone = obj().service().remove_hook(hook_id)
    if wants_json(as_json):
        emit_json({**gone.to_dict(), "removed": True})
    else:
        click.echo(f"webhook {gone.id} ({gone.url}) removed")


@hook.command("deliveries")
@click.argument("hook_id", metavar="[ID]", required=False)
@click.option("--failed", is_flag=True, help="Only deliveries whose last attempt failed.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@json_option
def hook_deliveries(hook_id: str | None, failed: bool, limit: int, as_json: bool) -> None:
    """Deliveries, newest first, with every attempt (time, status, latency, error)."""
    found = obj().service().hook_deliveries(hook_id, failed=failed, limit=limit)
    if wants_json(as_json):
        emit_json([d.to_dict() for d in found])
        return
    rows = []
    for d in (x.to_dict() for x in found):
        last = d["tried"][-1] if d["tried"] else {}
        status = d["last_status"] or "-"
        rows.append([d["id"], d["state"], str(d["attempts"]), str(status), last.get("at", "-")])
        if d["last_error"]:
            rows[-1].append(d["last_error"])
    header = ["DELIVERY", "STATE", "ATTEMPTS", "STATUS", "LAST ATTEMPT"]
    table([r + [""] * (6 - len(r)) for r in rows], [*header, "ERROR"])


@hook.command("redeliver")
@click.argument("delivery", metavar="DELIVERY")
@json_option
def hook_redeliver(delivery: str, as_json: bool) -> None:
    """Send a delivery again (and resume a webhook a failure disabled)."""
    queued = obj().service().redeliver(delivery)
    if wants_json(as_json):
        emit_json(queued.to_dict())
    else:
        click.echo(f"{queued.id} queued for delivery")


@hook.command("deliver")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron).")
@json_option
def hook_deliver(once: bool, as_json: bool) -> None:
    """Run webhook deliveries for a vault without a daemon ('serve' runs them itself)."""
    local_only(obj().home)
    from toolvault.events.worker import Worker

    worker = Worker(obj().open())
    if once:
        turns = worker.deliver_once()
    else:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: worker.stop.set())
        worker.run()
        turns = 0
    if wants_json(as_json):
        emit_json({"turns": turns})


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]…")
@click.option("--event", "events", multiple=True, metavar="E", help=EVENTS_HELP)
@click.option("--after", type=click.IntRange(0), help="Start after this audit seq (default: now).")
@click.option("--count", type=click.IntRange(1), help="Exit after this many events.")
@json_option
def watch(
    names: tuple[str, ...],
    events: tuple[str, ...],
    after: int | None,
    count: int | None,
    as_json: bool,
) -> None:
    """Print events as they happen (of the tools NAME…, or all); --json: one per line."""
    from toolvault.events.model import EventFilter

    chosen = EventFilter.make(events, names)
    service = obj().service()
    stream = (
        service.stream_events(after, chosen)
        if hasattr(service, "stream_events")
        else _follow(service, after, chosen)
    )
    for seen, event in enumerate(stream, 1):
        click.echo(json.dumps(event, ensure_ascii=False) if wants_json(as_json) else _line(event))
        if count is not None and seen >= count:
            return


def _follow(vault: Any, after: int | None, chosen: Any) -> Iterator[dict[str, Any]]:
    """A local vault's events: the audit log, followed."""
    from toolvault.events.bell import BELL

    cursor = vault.event_head() if after is None else after
    while True:
        seen = BELL.count
        found, through = vault.events_after(cursor, chosen)
        yield from (e.to_dict() for e in found)
        if through == cursor:
            BELL.wait(seen, 0.25)  # another process's writes: seen at the next look
        cursor = through


def _line(event: dict[str, Any]) -> str:
    what = event["ref"] or event["tool"] or "-"
    return f"{event['seq']}  {event['at']}  {event['actor']}  {event['type']}  {what}"
