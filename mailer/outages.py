"""Riding out a restart of our own database: close broken connections, retry with a backoff.

Django reconnects only at the boundaries of web requests (`close_old_connections` on
request_started/finished). Long-running processes (Celery tasks, the event mailbox receiver,
`massmail_invoices --wait`) call `database_retry` around each unit of work instead: a unit
that met a lost connection runs again on a fresh one, with a growing wait, until a deadline.
A unit must be safe to run again: one statement, a transaction, or a read.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

#: What a lost or refused database connection raises (psycopg's errors, wrapped by Django).
DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
FIRST_WAIT = 0.2  # seconds before the first retry; doubled each time up to MAX_WAIT
MAX_WAIT = 5.0


def database_connections_close() -> None:
    """Close this thread's open database connections: the next query opens a fresh one."""
    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except DATABASE_ERRORS:  # closing a connection the server already cut
            connection.connection = None


def retry_wait(attempt: int, *, first: float = FIRST_WAIT, cap: float = MAX_WAIT) -> float:
    """Return the wait before retry `attempt` (0-based): exponential, capped, with jitter."""
    delay = min(cap, first * 2**attempt)
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311  (jitter, not a secret)


def database_retry[T](
    work: Callable[[], T],
    *,
    until: float | None,
    on_outage: Callable[[Exception, float], None] | None = None,
    cap: float = MAX_WAIT,
) -> T:
    """Run `work`; after a database error reconnect and run it again until `until`.

    `until` is a `time.monotonic()` deadline (None: no deadline); past it the last error
    propagates. `on_outage(error, wait)` is told of each failed attempt before the wait.
    """
    attempt = 0
    while True:
        try:
            return work()
        except DATABASE_ERRORS as exc:
            database_connections_close()
            wait = retry_wait(attempt, cap=cap)
            if until is not None and time.monotonic() + wait > until:
                raise
            if on_outage is not None:
                on_outage(exc, wait)
            else:
                logger.warning("The database is unreachable (%s); retrying in %.1fs", exc, wait)
            time.sleep(wait)
            attempt += 1


def error_summary(exc: BaseException) -> str:
    """Return the first line of an error's text (psycopg adds context lines)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
