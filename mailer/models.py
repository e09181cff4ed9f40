"""What happened to mail: the event log (send failures, bounces, re-authentication)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from users.models import UserCard


class EventKind(models.TextChoices):
    SEND_FAILED = "send_failed", "Send failed"
    SEND_UNKNOWN = "send_unknown", "Outcome unknown"
    BOUNCE = "bounce", "Bounce"
    REAUTH_NEEDED = "reauth_needed", "Re-authentication needed"
    INBOUND = "inbound", "Other mail to the event mailbox"


class MailEvent(models.Model):
    """One event on a user's card: time, user, message, recipient and cause; never a secret."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    card = models.ForeignKey(
        UserCard, on_delete=models.SET_NULL, null=True, blank=True, related_name="mail_events"
    )
    # The code is kept as text too, so the log outlives a deleted card.
    user_code = models.CharField(max_length=30, db_index=True)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    cause = models.CharField(max_length=64, blank=True, db_index=True)
    message = models.TextField(blank=True)
    recipient = models.CharField(max_length=320, blank=True)
    message_id = models.CharField(max_length=998, blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    smtp_reply = models.TextField(blank=True)
    step = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["user_code", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user_code} {self.kind} {self.cause}"

    def as_dict(self) -> dict[str, object]:
        """Return the event as the `mail_events --json` document describes it."""
        return {
            "time": self.created_at.isoformat(),
            "user": self.user_code,
            "kind": self.kind,
            "cause": self.cause,
            "message": self.message,
            "recipient": self.recipient,
            "message_id": self.message_id,
            "smtp_code": self.smtp_code,
            "step": self.step,
        }


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


class MassMailJob(models.Model):
    """One mass-mailing of invoices through the owner card's resolved settings."""

    owner = models.ForeignKey(UserCard, on_delete=models.CASCADE, related_name="mass_mail_jobs")
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
        ordering: ClassVar = ["-created_at", "-id"]
        verbose_name = "mass-mail job"

    def __str__(self) -> str:
        return f"Mass-mail job {self.pk} of {self.owner.code} ({self.status})"


class OutgoingMail(models.Model):
    """One invoice e-mail of a job, with its stable Message-ID and its delivery state."""

    job = models.ForeignKey(MassMailJob, on_delete=models.CASCADE, related_name="mails")
    invoice = models.ForeignKey(
        "invoices.Invoice", on_delete=models.CASCADE, related_name="outgoing_mails"
    )
    recipient = models.CharField(max_length=320, blank=True)
    message_id = models.CharField(max_length=250)
    status = models.CharField(max_length=12, choices=MailStatus.choices, default=MailStatus.QUEUED)
    cause = models.CharField(max_length=64, blank=True)
    user_message = models.TextField(blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=120, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["job", "id"]
        verbose_name = "outgoing mail"
        verbose_name_plural = "outgoing mail"
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["job", "invoice"], name="mailer_outgoing_one_per_job"),
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
