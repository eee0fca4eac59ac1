"""The webhook and event methods of :class:`toolvault.client.RemoteVault` (SPEC §15):
``hook …`` and ``watch`` through the daemon at ``TOOLVAULT_URL``."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from toolvault import errors
from toolvault.client_answers import DELIVERY, EVENT, HOOK, check
from toolvault.events.model import EventFilter

RECONNECT = 1.0  # seconds before reconnecting a stream that dropped (SSE's "retry")


class Shown(dict[str, Any]):
    """A record the daemon sent, read like the service's dataclasses (``.id``,
    ``.to_dict()``)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def to_dict(self) -> dict[str, Any]:
        """The record as the daemon sent it."""
        return dict(self)


class RemoteHooks:
    """Webhooks and the event stream on the daemon."""

    url: str
    token: str | None
    timeout: float
    _stream_opened = False  # whether the event stream was ever answered

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        raise NotImplementedError

    def _write(self, method: str, path: str, body: Any = None) -> Any:
        raise NotImplementedError

    def _raise_for(self, status: int, body: bytes) -> None:
        raise NotImplementedError

    def add_hook(
        self,
        url: str,
        events: Sequence[str] = (),
        tools: Sequence[str] = (),
        *,
        secret: str | None = None,
        sign: str | None = None,
    ) -> tuple[Shown, str | None]:
        """Add an endpoint on the daemon; its secret comes back this once."""
        body: dict[str, Any] = {"url": url, "events": list(events), "tools": list(tools)}
        body |= {"secret": secret, "sign": sign}
        made = check(self._write("POST", "/v1/hooks", body), HOOK)
        shown = made.pop("secret", None)
        return Shown(made), shown

    def hooks(self) -> list[Shown]:
        """The daemon's endpoints."""
        return [Shown(h) for h in check(self._json("GET", "/v1/hooks"), [HOOK])]

    def remove_hook(self, hook_id: str) -> Shown:
        """Remove an endpoint on the daemon."""
        gone = check(self._write("DELETE", f"/v1/hooks/{quote(hook_id, safe='')}"), HOOK)
        gone.pop("removed", None)
        return Shown(gone)

    def hook_deliveries(
        self, hook_id: str | None = None, *, failed: bool = False, limit: int = 100
    ) -> list[Shown]:
        """Deliveries on the daemon, newest first."""
        query: dict[str, Any] = {"limit": limit}
        if hook_id is not None:
            query["hook"] = hook_id
        if failed:
            query["failed"] = "true"
        found = check(self._json("GET", f"/v1/deliveries?{urlencode(query)}"), [DELIVERY])
        return [Shown(d) for d in found]

    def redeliver(self, delivery: str) -> Shown:
        """Queue a delivery again on the daemon."""
        path = f"/v1/deliveries/{quote(delivery, safe='')}/redeliver"
        return Shown(check(self._json("POST", path), {"id": str}))

    def stream_events(self, after: int | None, chosen: EventFilter) -> Iterator[dict[str, Any]]:
        """The daemon's live stream, reconnecting with ``Last-Event-ID`` when it drops
        (so nothing is missed and nothing seen twice)."""
        query: list[tuple[str, Any]] = [("event", t) for t in sorted(chosen.types)]
        query += [("tool", t) for t in sorted(chosen.tools)]
        if after is not None:
            query.append(("after", after))
        last: str | None = None
        self._stream_opened = False
        while True:
            try:
                for seq, event in self._events_once(query, last):
                    last = seq
                    yield check(event, EVENT)
            except (OSError, http.client.HTTPException) as exc:
                if not self._stream_opened:  # never reached: say so rather than retry in silence
                    raise errors.Unreachable.daemon(self.url, exc) from None
            time.sleep(RECONNECT)  # dropped (or ended): resume after the last id seen

    def _events_once(
        self, query: list[tuple[str, Any]], last: str | None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        parts = urlsplit(self.url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "", parts.port, timeout=max(self.timeout, 60.0))
        headers = {"Accept": "text/event-stream"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if last is not None:
            headers["Last-Event-ID"] = last
        try:
            path = parts.path.rstrip("/") + "/v1/events" + (f"?{urlencode(query)}" if query else "")
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            self._stream_opened = True
            if resp.status != 200:
                self._raise_for(resp.status, resp.read())
            yield from _parse(resp)
        finally:
            conn.close()


def _parse(resp: http.client.HTTPResponse) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, event) of each SSE message with data."""
    seq, data = "", ""
    for raw in resp:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                try:
                    yield seq, json.loads(data)
                except ValueError:
                    raise errors.ToolvaultError("the daemon's event stream sent bad JSON") from None
            seq, data = "", ""
        elif line.startswith("id:"):
            seq = line[3:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
