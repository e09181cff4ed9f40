"""Dispatching a job: claim a batch, send it over one connection, record each outcome.

Per message the database sees two statements: the row becomes "transmitting" right before
its DATA (conditional on this worker still holding it: a fence against a reaped lease) and
then gets its outcome. The claim (one UPDATE ... RETURNING with SKIP LOCKED) and loading the
documents (through the job's document kind, massmail.documents) are per batch.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from mailer.exceptions import (
    MailAuthError,
    MailDeliveryError,
    MailSettingsError,
    MailTlsError,
    OutcomeUnknownError,
    SenderRefusedError,
    Step,
)
from mailer.messages import message_envelope
from mailer.services import SEND_ERRORS, mail_failure_record, mail_transport_get, sender_config_get
from massmail.causes import MassMailCause
from massmail.conf import MassMailSettings, massmail_settings
from massmail.documents import DocumentError, DocumentKind, document_kind_get
from massmail.jobs import massmail_job_finish_if_done
from massmail.limits import SenderLimiter, limit_store
from massmail.models import PENDING_STATUSES, JobStatus, MailStatus, MassMailJob, OutgoingMail
from massmail.reaper import massmail_reap
from oauth365.exceptions import M365AuthError

if TYPE_CHECKING:
    from mailer.config import SenderConfig
    from mailer.services import SendError
    from mailer.transport import SmtpTransport

logger = logging.getLogger(__name__)

_JOB_CHECK_EVERY = 1.0  # seconds between looks at the job's status during a batch
#: Errors while connecting that are the sender's settings, not the message: pause the job.
_SESSION_STEPS = (Step.CONNECT, Step.EHLO, Step.TLS, Step.AUTH)


class Outcome(StrEnum):
    """Why a dispatch run ended."""

    FINISHED = "finished"  # the job has no pending row left
    IDLE = "idle"  # nothing due now (future retries, or rows in other workers' hands)
    BUDGET = "budget"  # the time budget is spent and work is left: queue the next run
    STOPPED = "stopped"  # the job is paused, cancelled or gone
    PAUSED = "paused"  # this run paused the job (authentication, settings)
    NO_SLOT = "no_slot"  # every connection of the mailbox is in use by other workers
    SENDER_PAUSED = "sender_paused"  # quota: the mailbox waits until its window passes


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    document_id: int
    recipient: str
    message_id: str
    attempts: int


#: A row whose document was deleted after the job was created.
DOCUMENT_GONE = DocumentError(MassMailCause.DOCUMENT_DELETED)


class _LeaseLostError(Exception):
    """The row is no longer this worker's (reaped, reclaimed or cancelled): do not send it."""


def worker_name() -> str:
    """Return a name unique to this dispatch run: host, process and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def massmail_claim(*, job_id: int, worker: str, limit: int, lease: float) -> list[ClaimedRow]:
    """Claim up to `limit` due rows of a running job in one statement, skipping locked rows."""
    now = timezone.now()
    qn = connection.ops.quote_name
    mails, jobs = qn(OutgoingMail._meta.db_table), qn(MassMailJob._meta.db_table)
    lock = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    # Table names come from the models; every value is a parameter.
    sql = (
        f"UPDATE {mails} SET status = %s, lease_until = %s, claimed_by = %s "  # noqa: S608
        f"WHERE id IN (SELECT id FROM {mails} WHERE job_id = %s "
        "AND (status = %s OR (status = %s AND next_attempt_at <= %s)) "
        f"AND EXISTS (SELECT 1 FROM {jobs} WHERE id = %s AND status = %s) "
        f"ORDER BY id LIMIT %s{lock}) "
        "RETURNING id, document_id, recipient, message_id, attempts"
    )
    params: list[Any] = [
        MailStatus.CLAIMED,
        now + timedelta(seconds=lease),
        worker,
        job_id,
        MailStatus.QUEUED,
        MailStatus.RETRY,
        now,
        job_id,
        JobStatus.RUNNING,
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return sorted((ClaimedRow(*row) for row in rows), key=lambda row: row.id)


def massmail_release(*, ids: list[int], worker: str) -> int:
    """Put rows this worker claimed but did not transmit back in the queue."""
    if not ids:
        return 0
    return OutgoingMail.objects.filter(
        pk__in=ids, claimed_by=worker, status=MailStatus.CLAIMED
    ).update(status=MailStatus.QUEUED, claimed_by="", lease_until=None)


def retry_delay(*, attempt: int, conf: MassMailSettings) -> float:
    """Return the wait before attempt `attempt + 1`: exponential, capped, with equal jitter."""
    delay = min(conf.retry_max, conf.retry_base * 2 ** max(0, attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311  (jitter, not a secret)


def _is_sender_problem(exc: SendError) -> bool:
    """Return whether an error is about the sender's settings or account, not this message."""
    if isinstance(exc, MailAuthError | M365AuthError | MailSettingsError):
        return not (isinstance(exc, M365AuthError) and exc.transient)
    if isinstance(exc, MailDeliveryError) and not exc.transient:
        return isinstance(exc, MailTlsError | SenderRefusedError) or exc.step in _SESSION_STEPS
    return False


class Dispatcher:
    """One dispatch run of one job in one worker process."""

    def __init__(self, *, job_id: int, worker: str = "", budget: float | None = None) -> None:
        self.job_id = job_id
        self.worker = worker or worker_name()
        self.conf = massmail_settings()
        self.budget = self.conf.budget if budget is None else budget
        self.started = time.monotonic()
        self.store = limit_store()
        self.registry_key = f"massmail:job:{job_id}:dispatchers"
        self.sent = 0
        self._job_checked = 0.0
        self.job: MassMailJob
        self.config: SenderConfig
        self.limiter: SenderLimiter
        self.documents: DocumentKind
        self.transport: SmtpTransport | None = None

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> Outcome:
        massmail_reap()
        job = MassMailJob.objects.select_related("owner").filter(pk=self.job_id).first()
        if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return Outcome.STOPPED
        self.job = job
        self.documents = document_kind_get(job.document_kind)
        self.config = sender_config_get(card=job.owner)
        refusal = self.config.mass_mail_refusal()
        if refusal is not None:
            self._job_pause(refusal)
            return Outcome.PAUSED
        if job.status == JobStatus.QUEUED:
            MassMailJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
                status=JobStatus.RUNNING, started_at=timezone.now()
            )
        self.limiter = SenderLimiter(
            host=self.config.host, mailbox=self.config.username or self.config.envelope_from
        )
        if self.limiter.paused_for() > 0:
            self._job_wait_note(self.limiter.paused_for())
            return Outcome.SENDER_PAUSED
        self._register()
        try:
            if not self._slot_wait():
                return Outcome.NO_SLOT
            return self._loop()
        finally:
            if self.transport is not None:
                self.transport.close()
            self.limiter.slot_release()
            self.store.slot_release(self.registry_key, self.worker)

    def _loop(self) -> Outcome:
        batch_size = self._batch_size()
        while True:
            if time.monotonic() - self.started > self.budget:
                return Outcome.BUDGET
            self._keepalive()
            batch = massmail_claim(
                job_id=self.job_id, worker=self.worker, limit=batch_size, lease=self.conf.lease
            )
            if not batch:
                outcome = self._when_nothing_claimed()
                if outcome is None:
                    continue
                return outcome
            outcome = self._send_batch(batch)
            if outcome is not None:
                return outcome

    def _when_nothing_claimed(self) -> Outcome | None:
        """Finish the job, wait a little for a due retry (None: claim again), or stop."""
        state = OutgoingMail.objects.filter(
            job_id=self.job_id,
            status__in=PENDING_STATUSES,
        ).aggregate(
            pending=Count("id"),
            queued=Count("id", filter=Q(status=MailStatus.QUEUED)),
            next_retry=Min("next_attempt_at", filter=Q(status=MailStatus.RETRY)),
        )
        if not state["pending"]:
            massmail_job_finish_if_done(job_id=self.job_id)
            return Outcome.FINISHED
        if state["queued"] or not self._job_running(force=True):
            # Queued rows that could not be claimed: the job is no longer running.
            return Outcome.STOPPED
        next_retry = state["next_retry"]
        if next_retry is None:
            return Outcome.IDLE  # the rest is in other workers' hands
        wait = (next_retry - timezone.now()).total_seconds()
        left = self.budget - (time.monotonic() - self.started)
        if wait > min(self.conf.inline_wait, left):
            return Outcome.IDLE
        time.sleep(max(0.02, wait))
        return None

    def _send_batch(self, batch: list[ClaimedRow]) -> Outcome | None:
        by_id = self.documents.load(card=self.job.owner, ids=[row.document_id for row in batch])
        for index, row in enumerate(batch):
            if not self._job_running():
                massmail_release(ids=[r.id for r in batch[index:]], worker=self.worker)
                return Outcome.STOPPED
            document = by_id.get(row.document_id)
            if document is None:
                self._fail(row, DOCUMENT_GONE, status=MailStatus.FAILED)
                continue
            outcome = self._send_one(row, document)
            if outcome is not None:
                massmail_release(ids=[r.id for r in batch[index + 1 :]], worker=self.worker)
                return outcome
        return None

    def _send_one(self, row: ClaimedRow, document: Any) -> Outcome | None:
        try:
            message = self.documents.message_build(
                document,
                config=self.config,
                subject_template=self.job.subject_template,
                body_template=self.job.body_template,
                message_id=row.message_id,
            )
            envelope_from, recipients, raw = message_envelope(message, self.config)
        except (DocumentError, *SEND_ERRORS) as exc:
            self._fail(row, exc, status=MailStatus.FAILED)
            return None
        waited = self._rate_wait()
        if waited is not None:
            massmail_release(ids=[row.id], worker=self.worker)
            return waited
        marked = False

        def mark_transmitting() -> None:
            nonlocal marked
            if marked:  # the transport reconnected and is at DATA again
                return
            updated = OutgoingMail.objects.filter(
                pk=row.id, claimed_by=self.worker, status=MailStatus.CLAIMED
            ).update(
                status=MailStatus.TRANSMITTING,
                lease_until=timezone.now() + timedelta(seconds=self.conf.lease),
            )
            if updated != 1:
                raise _LeaseLostError(row.id)
            marked = True

        if self.transport is None:
            try:
                self.transport = mail_transport_get(config=self.config)
            except SEND_ERRORS as exc:
                return self._on_error(row, exc)
        try:
            self.transport.send(envelope_from, recipients, raw, before_data=mark_transmitting)
        except _LeaseLostError:
            return None
        except SEND_ERRORS as exc:
            return self._on_error(row, exc)
        self.sent += 1
        OutgoingMail.objects.filter(
            pk=row.id,
            claimed_by=self.worker,
            status__in=(MailStatus.TRANSMITTING, MailStatus.UNKNOWN),
        ).update(
            status=MailStatus.SENT,
            sent_at=timezone.now(),
            attempts=row.attempts + 1,
            lease_until=None,
            cause="",
            params={},
            user_message="",
            smtp_code=None,
        )
        return None

    # -- outcomes ---------------------------------------------------------------------------

    def _on_error(self, row: ClaimedRow, exc: SendError) -> Outcome | None:
        card = self.job.owner
        if isinstance(exc, OutcomeUnknownError):
            self._fail(row, exc, status=MailStatus.UNKNOWN)
            mail_failure_record(
                card=card, error=exc, recipient=row.recipient, message_id=row.message_id
            )
            return None
        if _is_sender_problem(exc):
            massmail_release(ids=[row.id], worker=self.worker)
            mail_failure_record(card=card, error=exc, recipient=row.recipient)
            self._job_pause(exc.user_message)
            return Outcome.PAUSED
        if getattr(exc, "cause", "") == "quota_exceeded":
            seconds = self.limiter.pause()
            OutgoingMail.objects.filter(pk=row.id, claimed_by=self.worker).update(
                status=MailStatus.RETRY,
                next_attempt_at=timezone.now() + timedelta(seconds=seconds),
                cause=exc.cause,
                params=dict(exc.params),
                user_message=exc.user_message,
                smtp_code=getattr(exc, "smtp_code", None),
                lease_until=None,
            )
            mail_failure_record(card=card, error=exc, recipient=row.recipient)
            self._job_wait_note(seconds, reason=exc.user_message)
            return Outcome.SENDER_PAUSED
        if exc.transient and row.attempts + 1 < self.conf.max_attempts:
            self._fail(row, exc, status=MailStatus.RETRY)
        else:
            self._fail(row, exc, status=MailStatus.FAILED)
            mail_failure_record(
                card=card, error=exc, recipient=row.recipient, message_id=row.message_id
            )
        return None

    def _fail(self, row: ClaimedRow, exc: Any, *, status: str) -> None:
        values: dict[str, Any] = {
            "status": status,
            "cause": exc.cause,
            "params": dict(exc.params),
            "user_message": exc.user_message,
            "smtp_code": getattr(exc, "smtp_code", None),
            "attempts": row.attempts + 1,
            "lease_until": None,
            "next_attempt_at": None,
        }
        if status == MailStatus.RETRY:
            delay = retry_delay(attempt=row.attempts + 1, conf=self.conf)
            values["next_attempt_at"] = timezone.now() + timedelta(seconds=delay)
        OutgoingMail.objects.filter(
            pk=row.id,
            claimed_by=self.worker,
            status__in=(MailStatus.CLAIMED, MailStatus.TRANSMITTING, MailStatus.UNKNOWN),
        ).update(**values)

    def _job_pause(self, reason: str) -> None:
        MassMailJob.objects.filter(
            pk=self.job_id, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
        ).update(status=JobStatus.PAUSED, status_reason=reason)

    def _job_wait_note(self, seconds: float, reason: str = "") -> None:
        resume_at = timezone.now() + timedelta(seconds=seconds)
        MassMailJob.objects.filter(pk=self.job_id).update(
            resume_at=resume_at,
            status_reason=reason
            or "The mailbox has reached its provider's sending limit; the job continues when "
            "the limit's window has passed.",
        )

    # -- pacing -----------------------------------------------------------------------------

    def _batch_size(self) -> int:
        """Return a batch small enough to be sent within its lease at the provider's pace."""
        interval = self.limiter.limit.min_interval
        if not interval:
            return self.conf.batch_size
        return max(1, min(self.conf.batch_size, int(self.conf.lease / (2 * interval))))

    def _rate_wait(self) -> Outcome | None:
        """Take the provider's allowance for one message, waiting for it if that is short."""
        while True:
            wait = self.limiter.rate_wait()
            if not wait:
                return None
            left = self.budget + self.conf.lease / 2 - (time.monotonic() - self.started)
            if wait > self.conf.inline_wait or wait > left:
                if wait > self.conf.inline_wait:
                    self.limiter.pause(wait)
                    self._job_wait_note(wait)
                    return Outcome.SENDER_PAUSED
                return Outcome.BUDGET
            time.sleep(wait)
            self._keepalive()

    def _slot_wait(self) -> bool:
        deadline = time.monotonic() + self.conf.slot_wait
        while not self.limiter.slot_acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1 + random.uniform(0, 0.2))  # noqa: S311
        return True

    def _register(self) -> None:
        self.store.slot_take(self.registry_key, self.worker, 10_000, self.limiter.slot_ttl)

    def _keepalive(self) -> None:
        self._register()
        if not self.limiter.slot_acquire():
            # Our slot expired (a long stall) and others took it: never exceed the limit.
            if self.transport is not None:
                self.transport.close()
                self.transport = None
            self._slot_wait()

    def _job_running(self, *, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self._job_checked < _JOB_CHECK_EVERY:
            return True
        self._job_checked = now
        status = MassMailJob.objects.filter(pk=self.job_id).values_list("status", flat=True).first()
        return status == JobStatus.RUNNING


def massmail_dispatch_run(*, job_id: int, budget: float | None = None) -> Outcome:
    """Send a job's due rows in this process until done, idle, stopped or out of budget."""
    return Dispatcher(job_id=job_id, budget=budget).run()


def massmail_inline_run(*, job_id: int, timeout: float | None = None) -> Outcome:
    """Dispatch a whole job in this process (development, small jobs); no worker needed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        outcome = massmail_dispatch_run(job_id=job_id)
        if outcome in (Outcome.FINISHED, Outcome.STOPPED, Outcome.PAUSED):
            return outcome
        if deadline is not None and time.monotonic() > deadline:
            return outcome
        if outcome != Outcome.BUDGET:
            time.sleep(0.5)
