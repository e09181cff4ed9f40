"""Mass-mail jobs: creating one (rows in bulk, tasks after the commit), control and progress."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_noop
from kombu.exceptions import OperationalError as KombuOperationalError

from events.errors import UserFacingError
from mailer.messages import message_id_make
from mailer.services import sender_config_get
from massmail.causes import MassMailCause
from massmail.conf import DISPATCH_TASK, MassMailRefusedError, mass_mail_refusal, massmail_settings
from massmail.documents import DocumentError, DocumentKind, document_kind_get
from massmail.limits import (
    FRESH_KEY,
    LIMIT_STORE_ERRORS,
    QUEUED_TTL,
    WAITING_KEY,
    job_registry_key,
    limit_store,
    limit_store_shared,
)
from massmail.models import (
    ACTIVE_JOB_STATUSES,
    PENDING_STATUSES,
    JobStatus,
    MailStatus,
    MassMailJob,
    OutgoingMail,
    status_reason_fields,
)
from users.models import MailSender

if TYPE_CHECKING:
    from users.models import UserCard

logger = logging.getLogger(__name__)
#: What publishing a task raises while the broker is down (kombu's, and the socket's).
BROKER_ERRORS: tuple[type[Exception], ...] = (KombuOperationalError, OSError)
_BULK_BATCH = 5000


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


_COLUMNS = (
    "job_id",
    "document_id",
    "document_label",
    "recipient",
    "message_id",
    "status",
    "cause",
    "params",
    "user_message",
)
#: Where _COLUMNS has the JSON parameters (COPY takes them as JSON text).
_PARAMS = _COLUMNS.index("params")


def _rows_insert(rows: list[tuple[Any, ...]]) -> None:
    """Insert outgoing-mail rows in bulk: PostgreSQL's COPY, else bulk_create in batches.

    COPY takes a 100,000-document job in about a second where bulk_create's SQL building
    takes ten (the mass-mail benchmark times the enqueue).
    """
    if connection.vendor != "postgresql":
        OutgoingMail.objects.bulk_create(
            (OutgoingMail(**dict(zip(_COLUMNS, row, strict=True))) for row in rows),
            batch_size=_BULK_BATCH,
        )
        return
    defaults = (0, "")  # attempts, claimed_by: NOT NULL without a database default
    table = connection.ops.quote_name(OutgoingMail._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in (*_COLUMNS, "attempts", "claimed_by"))
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = list(row)
            values[_PARAMS] = json.dumps(values[_PARAMS])
            copy.write_row((*values, *defaults))


def massmail_job_create(
    *,
    card: UserCard,
    kind: str,
    document_ids: Iterable[int] | None = None,
    subject_template: str | None = None,
    body_template: str | None = None,
    created_by: str = "",
) -> MassMailJob:
    """Create a job for the card's documents of one kind (None: every unsent one).

    One row each, in bulk; dispatch starts after the commit. Refused (MassMailRefusedError)
    unless the card's resolved settings allow mass mail and are complete. A document that
    cannot be sent as it is (no valid address) gets a failed row of its own.
    """
    config = sender_config_get(card=card)
    refusal = mass_mail_refusal(config)
    if refusal is not None:
        raise refusal
    documents = document_kind_get(kind)
    subject = subject_template or documents.default_subject
    body = body_template or documents.default_body
    rows = _rows_or_refuse(documents, card=card, subject=subject, body=body, ids=document_ids)

    with transaction.atomic():
        job = MassMailJob.objects.create(
            owner=card,
            document_kind=kind,
            subject_template=subject,
            body_template=body,
            total=len(rows),
            created_by=created_by[:150],
        )
        queued = sum(not row.problem for row in rows)
        _rows_insert(
            [
                (
                    job.pk,
                    row.document_id,
                    row.label[:200],
                    row.recipient.strip()[:320],
                    message_id_make(config),
                    MailStatus.FAILED.value if row.problem else MailStatus.QUEUED.value,
                    str(row.problem.cause) if row.problem else "",
                    dict(row.problem.params) if row.problem else {},
                    row.problem.message if row.problem else "",
                )
                for row in rows
            ]
        )
        if queued:
            # One run first: once it has work it queues the job's other runs behind the runs of
            # jobs started meanwhile (massmail_dispatch_fill), so every new job starts soon.
            job_id = job.pk
            transaction.on_commit(lambda: massmail_dispatch_enqueue(job_id=job_id))
        else:
            job.status = JobStatus.FINISHED
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "finished_at"])
            massmail_job_counts_store(job_id=job.pk)
    return job


def _rows_or_refuse(
    documents: DocumentKind,
    *,
    card: UserCard,
    subject: str,
    body: str,
    ids: Iterable[int] | None,
) -> list[Any]:
    """Check the templates and return the job's rows; a refusal names what to fix."""
    try:
        documents.templates_check(subject=subject, body=body)
        rows = documents.rows(card=card, ids=None if ids is None else {int(pk) for pk in ids})
    except DocumentError as exc:
        raise MassMailRefusedError(exc.cause, params=exc.params) from exc
    if not rows:
        raise MassMailRefusedError(
            documents.nothing_to_mail, params={"plural": documents.plural, "code": card.code}
        )
    return rows


def massmail_job_counts(*, job_id: int) -> dict[str, int]:
    """Return the number of rows per status (every status present) and the total."""
    counts = {status.value: 0 for status in MailStatus}
    for status, number in (
        OutgoingMail.objects.filter(job_id=job_id)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    ):
        counts[status] = number
    counts["total"] = sum(counts.values())
    return counts


def massmail_job_counts_store(*, job_id: int) -> dict[str, int]:
    """Store the final counts on the job (the admin list shows them without counting rows)."""
    counts = massmail_job_counts(job_id=job_id)
    MassMailJob.objects.filter(pk=job_id).update(
        sent_count=counts[MailStatus.SENT],
        failed_count=counts[MailStatus.FAILED],
        unknown_count=counts[MailStatus.UNKNOWN],
    )
    return counts


def massmail_job_finish_if_done(*, job_id: int) -> bool:
    """Mark a running job finished when no row is pending; return whether it was."""
    pending = OutgoingMail.objects.filter(job_id=OuterRef("pk"), status__in=PENDING_STATUSES)
    # One transaction: nobody sees a finished job whose final counts are not stored yet.
    with transaction.atomic():
        done = (
            MassMailJob.objects.filter(pk=job_id, status__in=ACTIVE_JOB_STATUSES)
            .filter(~Exists(pending))
            .update(status=JobStatus.FINISHED, finished_at=timezone.now(), resume_at=None)
        )
        if done:
            massmail_job_counts_store(job_id=job_id)
    return bool(done)


def massmail_job_pause(*, job: MassMailJob, reason: str = "") -> bool:
    """Pause a queued or running job; workers put back what they hold. Return whether it was."""
    paused = MassMailJob.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
        status=JobStatus.PAUSED,
        **status_reason_fields(reason=reason or gettext_noop("Paused by the user.")),
    )
    job.refresh_from_db()
    return bool(paused)


def massmail_job_resume(*, job: MassMailJob) -> bool:
    """Resume a paused job (its settings must still allow mass mail); dispatch after commit."""
    if job.status != JobStatus.PAUSED:
        return False
    refusal = mass_mail_refusal(sender_config_get(card=job.owner))
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        resumed = MassMailJob.objects.filter(pk=job.pk, status=JobStatus.PAUSED).update(
            status=JobStatus.RUNNING, resume_at=None, **status_reason_fields()
        )
        if resumed:
            job_id = job.pk
            transaction.on_commit(lambda: massmail_dispatch_enqueue(job_id=job_id))
    job.refresh_from_db()
    return bool(resumed)


def massmail_job_cancel(*, job: MassMailJob) -> bool:
    """Cancel a job: rows not yet being transmitted fail with cause "cancelled"."""
    with transaction.atomic():
        cancelled = MassMailJob.objects.filter(
            pk=job.pk, status__in=(*ACTIVE_JOB_STATUSES, JobStatus.PAUSED)
        ).update(
            status=JobStatus.CANCELLED,
            finished_at=timezone.now(),
            resume_at=None,
            **status_reason_fields(reason=gettext_noop("Cancelled by the user.")),
        )
        if cancelled:
            _cancelled_rows_fail(job_id=job.pk)
            massmail_job_counts_store(job_id=job.pk)
    job.refresh_from_db()
    return bool(cancelled)


def _cancelled_rows_fail(*, job_id: int) -> int:
    """Fail, as cancelled, the rows of a cancelled job that no worker is transmitting."""
    return (
        OutgoingMail.objects.filter(
            job_id=job_id,
            job__status=JobStatus.CANCELLED,
            status__in=(MailStatus.QUEUED, MailStatus.RETRY, MailStatus.CLAIMED),
        )
        .order_by()
        .update(
            status=MailStatus.FAILED,
            cause=MassMailCause.CANCELLED,
            params={},
            user_message=MassMailCause.CANCELLED.render({}),
            lease_until=None,
            next_attempt_at=None,
        )
    )


def massmail_cancelled_rows_settle(*, job_id: int) -> int:
    """Fail the rows a worker put back after its job was cancelled; store the counts again.

    A worker marks a small group "transmitting" at a time (massmail.rows), which a cancel
    leaves alone; what the worker then puts back unsent is failed here. Return how many.
    """
    failed = _cancelled_rows_fail(job_id=job_id)
    if failed:
        massmail_job_counts_store(job_id=job_id)
    return failed


def massmail_jobs_pause_for_card(
    *, card: UserCard, reason: str = "", error: UserFacingError | None = None
) -> int:
    """Pause the active jobs that send as this card or with its Microsoft 365 token.

    With the `error`, each job keeps its cause and parameters: the reason reads in the
    language of whoever opens the job page.
    """
    ids = []
    for job in MassMailJob.objects.filter(status__in=ACTIVE_JOB_STATUSES).select_related("owner"):
        config = sender_config_get(card=job.owner)
        # A lapsed token is no longer resolved: jobs that relied on it are now not ready.
        if (
            job.owner_id == card.pk
            or config.m365_token_card_id == card.pk
            or (config.mode == MailSender.M365_OAUTH and not config.ready)
        ):
            ids.append(job.pk)
    return MassMailJob.objects.filter(pk__in=ids, status__in=ACTIVE_JOB_STATUSES).update(
        status=JobStatus.PAUSED, **status_reason_fields(reason=reason, error=error)
    )


@dataclass(frozen=True)
class JobProgress:
    """What the job page and `massmail_invoices --wait` show."""

    job_id: int
    status: str
    counts: dict[str, int]
    rate: float  # messages sent per second over the last minute
    expected_finish: datetime | None
    reason: str
    resume_at: datetime | None

    @property
    def done(self) -> int:
        c = self.counts
        return c[MailStatus.SENT] + c[MailStatus.FAILED] + c[MailStatus.UNKNOWN]

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "status": self.status,
            "counts": self.counts,
            "done": self.done,
            "rate": round(self.rate, 2),
            "expected_finish": self.expected_finish.isoformat() if self.expected_finish else None,
            "reason": self.reason,
            "resume_at": self.resume_at.isoformat() if self.resume_at else None,
        }


RATE_WINDOW = timedelta(seconds=60)
_REASON_FIELDS = ("status_reason", "status_cause", "status_params")


def massmail_job_progress(*, job: MassMailJob) -> JobProgress:
    """Return counts per status, the recent rate and the expected finish of a job."""
    job.refresh_from_db(fields=[*_REASON_FIELDS, "status", "resume_at", "started_at"])
    counts = massmail_job_counts(job_id=job.pk)
    now = timezone.now()
    since = max(job.started_at or now, now - RATE_WINDOW)
    recent = OutgoingMail.objects.filter(
        job_id=job.pk, status=MailStatus.SENT, sent_at__gte=since
    ).count()
    seconds = (now - since).total_seconds()
    rate = recent / seconds if seconds >= 1 else 0.0
    remaining = sum(counts[s] for s in PENDING_STATUSES)
    expected = None
    if job.status in ACTIVE_JOB_STATUSES and remaining and rate > 0:
        expected = now + timedelta(seconds=remaining / rate)
    return JobProgress(
        job_id=job.pk,
        status=job.status,
        counts=counts,
        rate=rate,
        expected_finish=expected,
        reason=job.status_reason,  # stored in English: see massmail.models.status_reason_text
        resume_at=job.resume_at,
    )


def massmail_job_rows(*, job: MassMailJob, status: str = "") -> Any:
    """Return the job's rows with their documents' labels, optionally of one status."""
    rows = OutgoingMail.objects.filter(job=job).order_by("id")
    if status:
        rows = rows.filter(status=status)
    return rows.only(
        "id",
        "status",
        "cause",
        "params",
        "user_message",
        "recipient",
        "attempts",
        "sent_at",
        "next_attempt_at",
        "document_id",
        "document_label",
    )


def jobs_with_counts() -> Any:
    """Return jobs annotated with live counts per status (the admin list)."""
    annotations = {
        f"n_{status}": Count("mails", filter=Q(mails__status=status))
        for status in (MailStatus.SENT, MailStatus.FAILED, MailStatus.UNKNOWN)
    }
    pending = Count("mails", filter=Q(mails__status__in=PENDING_STATUSES))
    return MassMailJob.objects.select_related("owner").annotate(**annotations, n_pending=pending)
