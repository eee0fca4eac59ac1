"""The ``[hooks]`` table of ``config.toml``: where deliveries may go, the retry schedule,
timeouts and the worker's pace. Every key is optional::

    [hooks]
    allow = ["https://chat.example.com/hooks/", "http://127.0.0.1:9000/", "10.0.0.0/8"]
    schedule = [5, 300, 1800, 7200, 18000, 36000, 36000]   # seconds before each retry
    jitter = 0.2                # each wait is spread by up to ±20 %
    connect_timeout = 5
    read_timeout = 15
    max_response_bytes = 65536
    poll = 1.0                  # how often the worker looks at the log for others' writes
    lease = 60                  # how long a worker holds an endpoint
    coalesce = 0.02             # after a commit, wait this long so that one turn takes several
    worker = true               # false: serve leaves delivery to 'hook deliver' (cron)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolvault.errors import InvalidInput

# Standard Webhooks' schedule: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@dataclass(frozen=True, slots=True)
class HookSettings:
    """The settings of delivery; the defaults are those of a production daemon."""

    allow: tuple[str, ...] = ()
    schedule: tuple[float, ...] = SCHEDULE
    jitter: float = 0.2
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_response_bytes: int = 64 * 1024
    poll: float = 1.0
    lease: float = 60.0
    batch: int = 200
    workers: int = 4
    retry_after_max: float = 86400.0
    coalesce: float = 0.02  # seconds the worker waits after a commit wakes it
    worker: bool = True  # false: 'serve' leaves delivery to 'hook deliver' (cron)

    @classmethod
    def load(cls, table: Any) -> HookSettings:
        """Settings from the ``[hooks]`` table (None: the defaults); a bad value is
        :class:`InvalidInput` naming the key and what would work."""
        if table is None:
            return cls()
        if not isinstance(table, dict):
            raise InvalidInput("config.toml: [hooks] must be a table")
        unknown = sorted(set(table) - set(cls.__dataclass_fields__))
        if unknown:
            known = ", ".join(cls.__dataclass_fields__)
            raise InvalidInput(f"config.toml: [hooks] has no key {unknown[0]!r}; keys: {known}")
        values: dict[str, Any] = {}
        for key, value in table.items():
            values[key] = _checked(key, value)
        from toolvault.events.policy import parse_allow

        parse_allow(values.get("allow", ()))  # refused here, not at the first delivery
        return cls(**values)


def _checked(key: str, value: Any) -> Any:
    where = f"config.toml: [hooks] {key}"
    if key == "allow":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f'{where} must be a list of URL prefixes, e.g. ["https://…/"]')
        return tuple(value)
    if key == "worker":
        if not isinstance(value, bool):
            raise InvalidInput(f"{where} must be true or false")
        return value
    if key == "schedule":
        if not isinstance(value, list) or not all(_positive(v, zero=True) for v in value):
            raise InvalidInput(f"{where} must be a list of seconds, e.g. [5, 300, 1800]")
        return tuple(float(v) for v in value)
    if key == "jitter":
        if not _positive(value, zero=True) or value >= 1:
            raise InvalidInput(f"{where} must be a fraction from 0 to below 1, e.g. 0.2")
        return float(value)
    if key in ("max_response_bytes", "batch", "workers"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput(f"{where} must be a whole number of at least 1")
        return value
    if not _positive(value, zero=key == "coalesce"):
        raise InvalidInput(f"{where} must be a positive number of seconds")
    return float(value)


def _positive(value: Any, *, zero: bool = False) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return value >= 0 if zero else value > 0
