"""Celery tasks of mass mailing: they receive job ids only and call the services."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from mailer.outages import DATABASE_ERRORS, error_summary
from massmail.conf import DISPATCH_TASK, TICK_TASK, massmail_settings
from massmail.dispatch import Dispatcher, Outcome
from massmail.jobs import massmail_job_finish_if_done
from massmail.models import ACTIVE_JOB_STATUSES, MailStatus, MassMailJob, OutgoingMail
from massmail.queueing import (
    massmail_dispatch_continue,
    massmail_dispatch_enqueue,
    massmail_dispatch_started,
)
from massmail.reaper import massmail_reap
from massmail.shutdown import stop_noted
from massmail.stores import job_registry_key, limit_store

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name=DISPATCH_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def massmail_dispatch(self: Task, job_id: int) -> str:
    """Send a job's due rows for a slice; queue the next run while work is left.

    A run that handed its pool process back to another job's task, or ran out of budget, is
    queued again at the back; one that waits for its provider's allowance, for when it comes.
    """
    massmail_dispatch_started(job_id=job_id, token=self.request.id)
    dispatcher = Dispatcher(job_id=job_id)
    try:
        # A SIGTERM (a deploy) ends the run after the message in flight: no `unknown`.
        with stop_noted():
            outcome = dispatcher.run()
    except SoftTimeLimitExceeded:
        # Claimed rows went back to the queue (the run recovers them); the next run goes on.
        logger.warning("Mass-mail job %s: dispatch hit its soft time limit", job_id)
        outcome = Outcome.BUDGET
    except DATABASE_ERRORS as exc:
        # Before the first claim (or the database went away again): the tick wakes the job.
        logger.warning(
            "Mass-mail job %s: the database is unreachable (%s)", job_id, error_summary(exc)
        )
        outcome = Outcome.DATABASE_DOWN
    if outcome in (Outcome.BUDGET, Outcome.SHUTDOWN, Outcome.SLICE):
        massmail_dispatch_continue(job_id=job_id)
    elif outcome is Outcome.RATE_WAIT:
        massmail_dispatch_continue(job_id=job_id, countdown=dispatcher.resume_in)
    return str(outcome)


@shared_task(name=TICK_TASK, ignore_result=True)
def massmail_tick() -> dict[str, int]:
    """Reap expired leases, then wake active jobs with due rows and too few dispatchers."""
    reaped = massmail_reap()
    conf = massmail_settings()
    store = limit_store()
    now = timezone.now()
    woken = 0
    for job_id in MassMailJob.objects.filter(status__in=ACTIVE_JOB_STATUSES).values_list(
        "pk", flat=True
    ):
        rows = OutgoingMail.objects.filter(job_id=job_id)
        due = (
            rows.filter(status=MailStatus.QUEUED).exists()
            or rows.filter(status=MailStatus.RETRY, next_attempt_at__lte=now).exists()
        )
        if not due:
            massmail_job_finish_if_done(job_id=job_id)
            continue
        # Running and queued runs of the job (massmail.queueing notes each queued task).
        missing = conf.parallelism - store.slot_count(job_registry_key(job_id))
        # One wake-up per job per two ticks, so that queued but not yet started tasks are not
        # multiplied while the workers are busy.
        if missing > 0 and store.flag_set(f"massmail:job:{job_id}:kick", conf.tick * 2):
            massmail_dispatch_enqueue(job_id=job_id, count=missing, fresh=False)
            woken += 1
    return {"requeued": reaped.requeued, "unknown": reaped.unknown, "woken": woken}
