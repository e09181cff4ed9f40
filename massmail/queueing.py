"""Queueing a job's dispatch runs: how many a job has, and who waits for a pool process.

A job has MAILER_DISPATCH_PARALLELISM runs at most, running or queued. Each queued task is
noted in the limit store (massmail.stores): the tick counts a job's runs from those notes, and
running runs hand their pool process back while another run waits (massmail.pacing).
"""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from typing import Any

from celery import current_app
from kombu.exceptions import OperationalError as KombuOperationalError

from massmail.conf import DISPATCH_TASK, massmail_settings
from massmail.stores import (
    FRESH_KEY,
    LIMIT_STORE_ERRORS,
    QUEUED_TTL,
    WAITING_KEY,
    job_registry_key,
    limit_store,
    limit_store_shared,
)

logger = logging.getLogger(__name__)
#: What publishing a task raises while the broker is down (kombu's, and the socket's).
BROKER_ERRORS: tuple[type[Exception], ...] = (KombuOperationalError, OSError)


def massmail_dispatch_enqueue(
    *, job_id: int, count: int = 1, countdown: float = 0.0, fresh: bool = True
) -> bool:
    """Queue `count` dispatch tasks of a job, with the configured time limits.

    Each is noted in the limit store as one of the job's runs (the tick counts them) and as
    waiting for a pool process from `countdown` on (running runs hand theirs back, see
    massmail.pacing); `fresh`: the job's first runs (a new, resumed or woken job), which get
    a process soonest. Return False when the broker is unreachable: the job stays as it is and
    the tick (massmail.tasks) queues its dispatch once the broker is back.
    """
    # By name: the task module calls the services here, so this module does not import it.
    task = current_app.tasks[DISPATCH_TASK]
    conf = massmail_settings()
    options: dict[str, Any] = {
        "time_limit": math.ceil(conf.time_limit),
        "soft_time_limit": math.ceil(conf.soft_time_limit),
    }
    if countdown > 0:
        options["countdown"] = countdown
    try:
        for _ in range(max(1, count)):
            token = uuid.uuid4().hex
            # Noted first: the task drops its note when it starts (at once when eager).
            noted = _queued_note(job_id=job_id, token=token, countdown=countdown, fresh=fresh)
            try:
                task.apply_async(args=(job_id,), task_id=token, **options)
            except BROKER_ERRORS:
                if noted:
                    massmail_dispatch_started(job_id=job_id, token=token)
                raise
    except BROKER_ERRORS as exc:
        logger.warning(
            "Mass-mail job %s: the task broker is unreachable (%s); the job waits, and the "
            "tick queues its dispatch when the broker is back",
            job_id,
            exc,
        )
        return False
    return True


def _queued_note(*, job_id: int, token: str, countdown: float, fresh: bool) -> bool:
    store = limit_store()
    try:
        store.slot_take(job_registry_key(job_id), f"q:{token}", 10_000, countdown + QUEUED_TTL)
        store.waiting_note(FRESH_KEY if fresh else WAITING_KEY, token, countdown, QUEUED_TTL)
    except LIMIT_STORE_ERRORS as exc:
        # Only fairness and the tick's count rely on the note; the task itself is queued.
        logger.warning("Mass-mail job %s: could not note its queued dispatch (%s)", job_id, exc)
        return False
    return True


def massmail_dispatch_started(*, job_id: int, token: str | None) -> None:
    """Note that a queued dispatch task got a pool process: it no longer waits."""
    if not token:
        return
    store = limit_store()
    with contextlib.suppress(*LIMIT_STORE_ERRORS):
        store.slot_release(job_registry_key(job_id), f"q:{token}")
        store.waiting_drop(FRESH_KEY, token)
        store.waiting_drop(WAITING_KEY, token)


def massmail_dispatch_fill(*, job_id: int, most: int | None = None) -> int:
    """Queue, behind every waiting run, the runs a job lacks (MAILER_DISPATCH_PARALLELISM).

    A job's first run calls it once it has work: the job then has its runs, counting the
    running and the queued ones; `most`: fewer (its mailbox allows fewer connections).
    Return how many were queued.
    """
    try:
        runs = limit_store().slot_count(job_registry_key(job_id))
    except LIMIT_STORE_ERRORS:
        return 0
    parallelism = massmail_settings().parallelism
    missing = min(parallelism, parallelism if most is None else most) - runs
    if missing <= 0 or not massmail_dispatch_enqueue(job_id=job_id, count=missing, fresh=False):
        return 0
    return missing


def massmail_dispatch_continue(*, job_id: int, countdown: float = 0.0) -> bool:
    """Queue a job's next run at the back, unless the job already has its runs.

    A dispatch run that handed its pool process back, waits for its provider's allowance or
    ran out of budget continues this way. The job has MAILER_DISPATCH_PARALLELISM runs at
    most, running or queued (the tick may have queued one meanwhile). Return whether queued.
    """
    try:
        # Without Redis each process sees only its own notes: the run always continues.
        runs = limit_store().slot_count(job_registry_key(job_id)) if limit_store_shared() else 0
    except LIMIT_STORE_ERRORS:
        runs = 0
    if runs >= massmail_settings().parallelism:
        return False
    return massmail_dispatch_enqueue(job_id=job_id, countdown=countdown, fresh=False)
