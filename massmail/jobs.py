"""Mass-mail jobs: creating one (rows in bulk, its first run after the commit) and control.

Queueing the runs is massmail.queueing; what a job's page shows is massmail.progress.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_noop

from events.errors import UserFacingError
from mailer.messages import message_id_make
from mailer.services import sender_config_get
from massmail.causes import MassMailCause
from massmail.conf import MassMailRefusedError, mass_mail_refusal
from massmail.documents import DocumentError, DocumentKind, document_kind_get
from massmail.models import (
    ACTIVE_JOB_STATUSES,
    PENDING_STATUSES,
    JobStatus,
    MailStatus,
    MassMailJob,
    OutgoingMail,
    status_reason_fields,
)
from massmail.queueing import massmail_dispatch_enqueue
from users.models import MailSender

if TYPE_CHECKING:
    from users.models import UserCard

logger = logging.getLogger(__name__)
_BULK_BATCH = 5000


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
