"""Mass mailing: jobs and their outgoing mail."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from events.errors import UserFacingError, cause_get, cause_render
from users.models import UserCard


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    CANCELLED = "cancelled", _("Cancelled")
    FINISHED = "finished", _("Finished")


class MailStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    CLAIMED = "claimed", _("Claimed by a worker")
    TRANSMITTING = "transmitting", _("Transmitting")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Outcome unknown")
    RETRY = "retry", _("Retry scheduled")
    BOUNCED = "bounced", _("Bounced")


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

    owner = models.ForeignKey(
        UserCard,
        on_delete=models.CASCADE,
        related_name="mass_mail_jobs",
        verbose_name=_("owner"),
    )
    #: The registered kind of its documents (massmail.documents), e.g. "invoice" or "letter".
    document_kind = models.CharField(_("kind of document"), max_length=30)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=JobStatus.choices,
        default=JobStatus.QUEUED,
        db_index=True,
    )
    subject_template = models.TextField(_("subject template"))
    body_template = models.TextField(_("body template"))
    total = models.PositiveIntegerField(_("total"), default=0)
    # Final counts, stored when the job ends (a running job's counts come from its rows).
    sent_count = models.PositiveIntegerField(_("sent"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    unknown_count = models.PositiveIntegerField(_("outcome unknown"), default=0)
    #: Stored in English (a message template or a rendered cause); `reason` translates it.
    #: Written with status_cause and status_params, always together (`status_reason_fields`).
    status_reason = models.TextField(
        _("status reason"),
        blank=True,
        help_text=_("Why the job is paused, waiting or was refused or cancelled."),
    )
    #: The cause of the status reason and its parameters (events.errors), when an error gave it:
    #: the reason is then rendered from them in the reader's language. Empty on older rows.
    status_cause = models.CharField(_("status cause"), max_length=64, blank=True)
    status_params = models.JSONField(_("status parameters"), default=dict, blank=True)
    resume_at = models.DateTimeField(
        _("resume at"),
        null=True,
        blank=True,
        help_text=_("The sender is paused (quota) until this time."),
    )
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        # The tables kept their names when the models moved here from `mailer`.
        db_table = "mailer_massmailjob"
        ordering: ClassVar = ["-created_at", "-id"]
        verbose_name = _("mass-mail job")
        verbose_name_plural = _("mass-mail jobs")

    def __str__(self) -> str:
        return f"Mass-mail job {self.pk} of {self.owner.code} ({self.status})"

    @property
    def reason(self) -> str:
        """Return the status reason in the active language (a cause is rendered now)."""
        fallback = status_reason_text(self.status_reason)
        if self.status_cause:
            return cause_render(self.status_cause, self.status_params, fallback=fallback)
        return fallback


def status_reason_fields(
    *, reason: str = "", error: UserFacingError | None = None
) -> dict[str, Any]:
    """Return the fields that store a job's status reason: a fixed text, or an error's cause.

    An error is stored as its cause and parameters (rendered for each reader) and, as
    `status_reason`, its English text; a fixed text (a gettext_noop msgid) clears the cause.
    """
    if error is None:
        return {"status_reason": reason, "status_cause": "", "status_params": {}}
    with translation.override("en"):
        text = error.message
    return {
        "status_reason": text,
        "status_cause": str(error.cause),
        "status_params": dict(error.params),
    }


def status_reason_text(stored: str) -> str:
    """Return a stored status reason in the active language.

    Reasons are stored as written (English); the fixed ones ("Paused by the user.", the
    sending-limit note) are in the catalog and read in the reader's language.
    """
    return gettext(stored) if stored else ""


class OutgoingMail(models.Model):
    """One document's e-mail in a job, with its stable Message-ID and its delivery state."""

    job = models.ForeignKey(
        MassMailJob, on_delete=models.CASCADE, related_name="mails", verbose_name=_("job")
    )
    #: The id of the document (of the job's kind) this message carries.
    document_id = models.PositiveBigIntegerField(_("document id"))
    #: What the job page calls the document (e.g. "Invoice 2026-0042, Acme Ltd"), kept with the
    #: row so that the page needs no join and outlives the document.
    document_label = models.CharField(_("document"), max_length=200, blank=True)
    recipient = models.CharField(_("recipient"), max_length=320, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=250)
    status = models.CharField(
        _("status"), max_length=12, choices=MailStatus.choices, default=MailStatus.QUEUED
    )
    cause = models.CharField(_("cause"), max_length=64, blank=True)
    #: The cause's parameters (events.errors): the text is rendered from them when shown.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    #: The text as rendered when the outcome was recorded (old rows, causes no longer known).
    user_message = models.TextField(_("message as recorded"), blank=True)
    smtp_code = models.PositiveSmallIntegerField(_("SMTP code"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=120, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        db_table = "mailer_outgoingmail"
        ordering: ClassVar = ["job", "id"]
        verbose_name = _("outgoing mail")
        verbose_name_plural = _("outgoing mail")
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
