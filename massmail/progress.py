"""A job's progress as its page, the admin and `massmail_* --wait` show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from massmail.jobs import massmail_job_counts
from massmail.models import (
    ACTIVE_JOB_STATUSES,
    PENDING_STATUSES,
    MailStatus,
    MassMailJob,
    OutgoingMail,
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
