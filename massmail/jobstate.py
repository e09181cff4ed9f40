"""What a dispatch run writes on its job (start, pause, wait note) and how it watches it."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_noop

from events.errors import UserFacingError
from massmail.models import ACTIVE_JOB_STATUSES, JobStatus, MassMailJob, status_reason_fields

#: Seconds between looks at the job's status during a batch.
JOB_CHECK_EVERY = 1.0
#: Stored in English on the job; shown translated (massmail.models.status_reason_text).
SENDER_LIMIT_REASON = gettext_noop(
    "The mailbox has reached its provider's sending limit; the job continues when the limit's "
    "window has passed."
)


def job_start(*, job: MassMailJob) -> None:
    """Mark a queued job running (another run may have done so already)."""
    if job.status == JobStatus.QUEUED:
        MassMailJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=timezone.now()
        )


def job_pause(*, job_id: int, reason: str = "", error: UserFacingError | None = None) -> None:
    """Pause an active job for a reason its owner must fix (settings, authentication).

    Pass the `error` (not its message): its cause and parameters are stored, so the job page
    shows the reason in the reader's language, not in the worker's. A `reason` text is shown
    as stored (translated only if it is a msgid of the catalog).
    """
    MassMailJob.objects.filter(pk=job_id, status__in=ACTIVE_JOB_STATUSES).update(
        status=JobStatus.PAUSED, **status_reason_fields(reason=reason, error=error)
    )


def job_wait_note(
    *, job_id: int, seconds: float, reason: str = "", error: UserFacingError | None = None
) -> None:
    """Note on the job that its mailbox is paused, until when and why; it stays running."""
    fields = status_reason_fields(reason=reason or SENDER_LIMIT_REASON, error=error)
    MassMailJob.objects.filter(pk=job_id).update(
        resume_at=timezone.now() + timedelta(seconds=seconds), **fields
    )


class JobWatch:
    """Whether the job is still running, looked up at most once a second unless forced."""

    def __init__(self, *, job_id: int) -> None:
        self.job_id = job_id
        self._checked = 0.0

    def running(self, *, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self._checked < JOB_CHECK_EVERY:
            return True
        self._checked = now
        status = MassMailJob.objects.filter(pk=self.job_id).values_list("status", flat=True).first()
        return status == JobStatus.RUNNING
