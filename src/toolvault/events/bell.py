"""A process-wide bell rung after every commit that appended audit entries, so that the
delivery worker and the live stream of this process see a new event at once instead of
at their next poll (writes by other processes are seen by polling)."""

from __future__ import annotations

import threading


class Bell:
    """A counter and a condition: ``ring`` after a commit, ``wait`` for a ring."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0

    def ring(self) -> None:
        """Say that the audit log grew (or that a worker should look again)."""
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Wait until the count is past ``seen`` or ``timeout`` seconds pass; whether it
        rang. ``seen`` is read before looking for work, so that no ring is missed."""
        with self._cond:
            return self._cond.wait_for(lambda: self.count != seen, timeout=max(timeout, 0.0))


BELL = Bell()
