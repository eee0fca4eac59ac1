"""The cyclic garbage collector paused while a large graph is built.

A lineage walk of 10,000 versions makes hundreds of thousands of tuples and strings, none
in a cycle; the collector's passes over them cost a tenth of the walk. The fast paths
(one command, one thread) turn it off outright; the service may run in several threads of
the daemon at once, and :func:`paused` is shared by them: the first to enter pauses it
(if it was on), the last to leave turns it on again, so no walk turns it on under
another, and no one turns on a collector someone else had turned off before them.
"""

from __future__ import annotations

import gc
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType


class _Pause:
    """The shared state: how many are inside, and whether to turn it on again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.resume = False

    def __enter__(self) -> None:
        with self.lock:
            if not self.inside:
                self.resume = gc.isenabled()
                gc.disable()
            self.inside += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self.lock:
            self.inside -= 1
            if not self.inside and self.resume:
                gc.enable()


_PAUSE = _Pause()


def paused() -> _Pause:
    """A context in which the cyclic garbage collector does not run (see the module)."""
    return _PAUSE
