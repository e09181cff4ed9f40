"""A worker asked to stop (SIGTERM) ends its dispatch run after the message in flight.

Celery's prefork pool gives each pool process a SIGTERM handler that exits at once (billiard's
`_shutdown_cleanup`), so a SIGTERM to the worker's whole process group (systemd's default
KillMode, `kill -- -PGID`) would end a dispatch run in the middle of a DATA: an `unknown`
message. While a dispatch task runs, the signal is only noted; the dispatcher looks between
messages, puts back what it claimed, and the task queues the next run for another worker. The
worker's main process does its usual warm shutdown meanwhile.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_requested = threading.Event()


def stop_requested() -> bool:
    """Return whether this process was asked to stop during a dispatch run."""
    return _requested.is_set()


def _note(number: int, frame: FrameType | None) -> None:
    _requested.set()


@contextmanager
def stop_noted() -> Iterator[None]:
    """Within: SIGTERM sets `stop_requested()` instead of ending the process.

    Only the main thread may handle signals: elsewhere (an eager task in a web thread) this
    does nothing. A process that was asked to stop stays asked; it dies with its worker.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _note)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
