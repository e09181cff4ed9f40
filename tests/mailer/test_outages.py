"""database_retry: a unit of work that met a lost connection runs again, within a deadline."""

from __future__ import annotations

import time

import pytest
from django.db import InterfaceError, OperationalError

from mailer import outages


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(outages.time, "sleep", waits.append)
    return waits


def test_database_retry_runs_again_until_the_database_is_back(_no_sleep):
    """Two lost connections, then success: the result comes back; waits grow, each capped."""
    errors = [OperationalError("terminating connection"), InterfaceError("connection closed")]
    told: list[float] = []

    def work() -> str:
        if errors:
            raise errors.pop(0)
        return "done"

    result = outages.database_retry(work, until=None, on_outage=lambda exc, wait: told.append(wait))
    assert result == "done"
    assert told == _no_sleep and len(told) == 2
    assert all(0 < wait <= outages.MAX_WAIT for wait in told)


def test_database_retry_gives_up_at_its_deadline(_no_sleep):
    """Past the deadline the last database error propagates; other errors are never retried."""

    def down() -> None:
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        outages.database_retry(down, until=time.monotonic() - 1)
    assert _no_sleep == []

    def bug() -> None:
        raise ValueError("not an outage")

    with pytest.raises(ValueError, match="not an outage"):
        outages.database_retry(bug, until=None)


def test_retry_wait_doubles_up_to_the_cap():
    """The wait doubles from FIRST_WAIT and never exceeds the cap (equal jitter: half to all)."""
    for attempt in range(10):
        delay = min(outages.MAX_WAIT, outages.FIRST_WAIT * 2**attempt)
        assert delay / 2 <= outages.retry_wait(attempt) <= delay
