"""Mass mailing: jobs and their outgoing mail."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from events.errors import cause_get, cause_render
from users.models import UserCard


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    FINISHED = "finished", "Finished"


class MailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    CLAIMED = "claimed", "Claimed by a worker"
    TRANSMITTING = "transmitting", "Transmitting"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"
    RETRY = "retry", "Retry scheduled"
    BOUNCED = "bounced", "Bounced"


#: Rows that still wait for a worker (or are in one's hands); a job ends when none are left.
PENDING_STATUSES = (
    MailStatus.QUEUED,
    MailStatus.CLAIMED,
    MailStatus.TRANSMITTING,
    MailStatus.RETRY,
)
ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
#: Rows whose document counts as mailed, or on its way (a bounced one may be mailed again).
MAILED_STATUSES = (MailStatus.SENT, MailStatus.UNKNOWN, *PENDING_STATUSES)


class MassMailJob(models.Model):
    """One mass-mailing of one kind of document through the owner card's resolved settings."""

    owner = models.ForeignKey(UserCard, on_delete=models.CASCADE, related_name="mass_mail_jobs")
    #: The registered kind of its documents (massmail.documents), e.g. "invoice" or "letter".
    document_kind = models.CharField(max_length=30)
    status = models.CharField(
        max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    subject_template = models.TextField()
    body_template = models.TextField()
    total = models.PositiveIntegerField(default=0)
    # Final counts, stored when the job ends (a running job's counts come from its rows).
    sent_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    unknown_count = models.PositiveIntegerField(default=0)
    status_reason = models.TextField(
        blank=True, help_text="Why the job is paused, waiting or was refused or cancelled."
    )
    resume_at = models.DateTimeField(
        null=True, blank=True, help_text="The sender is paused (quota) until this time."
    )
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The tables kept their names when the models moved here from `mailer`.
        db_table = "mailer_massmailjob"
        ordering: ClassVar = ["-created_at", "-id"]
        verbose_name = "mass-mail job"

    def __str__(self) -> str:
        return f"Mass-mail job {self.pk} of {self.owner.code} ({self.status})"


class OutgoingMail(models.Model):
    """One document's e-mail in a job, with its stable Message-ID and its delivery state."""

    job = models.ForeignKey(MassMailJob, on_delete=models.CASCADE, related_name="mails")
    #: The id of the document (of the job's kind) this message carries.
    document_id = models.PositiveBigIntegerField()
    #: What the job page calls the document (e.g. "Invoice 2026-0042, Acme Ltd"), kept with the
    #: row so that the page needs no join and outlives the document.
    document_label = models.CharField(max_length=200, blank=True)
    recipient = models.CharField(max_length=320, blank=True)
    message_id = models.CharField(max_length=250)
    status = models.CharField(max_length=12, choices=MailStatus.choices, default=MailStatus.QUEUED)
    cause = models.CharField(max_length=64, blank=True)
    #: The cause's parameters (events.errors): the text is rendered from them when shown.
    params = models.JSONField(default=dict, blank=True)
    #: The text as rendered when the outcome was recorded (old rows, causes no longer known).
    user_message = models.TextField(blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=120, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mailer_outgoingmail"
        ordering: ClassVar = ["job", "id"]
        verbose_name = "outgoing mail"
        verbose_name_plural = "outgoing mail"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["job", "document_id"], name="massmail_outgoing_one_per_job"
            ),
        ]
        indexes: ClassVar = [
            # Claiming and counting: the rows of one job by status, in id order.
            models.Index(fields=["job", "status", "id"], name="mailer_outgoing_job_status"),
            # The reaper: leases of rows in a worker's hands.
            models.Index(
                fields=["lease_until"],
                name="mailer_outgoing_lease",
                condition=models.Q(status__in=["claimed", "transmitting"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient or '(no address)'} {self.status}"

    @property
    def text(self) -> str:
        """Return why the message failed or waits, rendered now from its cause and parameters.

        Rows stored without parameters (older ones, bounces) show their stored text unless the
        cause's template needs none.
        """
        known = cause_get(self.cause)
        if known is None or (not self.params and known.placeholders):
            return self.user_message
        return cause_render(self.cause, self.params, fallback=self.user_message)
