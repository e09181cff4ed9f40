"""What happened to mail: the event log (send failures, bounces, re-authentication)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from events.errors import cause_render
from users.models import UserCard


class EventKind(models.TextChoices):
    SEND_FAILED = "send_failed", _("Send failed")
    SEND_UNKNOWN = "send_unknown", _("Outcome unknown")
    BOUNCE = "bounce", _("Bounce")
    REAUTH_NEEDED = "reauth_needed", _("Re-authentication needed")
    INBOUND = "inbound", _("Other mail to the event mailbox")


class MailEvent(models.Model):
    """One event on a user's card: time, user, message, recipient and cause; never a secret."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    card = models.ForeignKey(
        UserCard,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mail_events",
        verbose_name=_("user card"),
    )
    # The code is kept as text too, so the log outlives a deleted card.
    user_code = models.CharField(_("user code"), max_length=30, db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    cause = models.CharField(_("cause"), max_length=64, blank=True, db_index=True)
    # The text as recorded (old rows and unknown causes show it); `text` renders it anew.
    message = models.TextField(_("message as recorded"), blank=True)
    # The parameters of the cause's template (named, never a secret); empty on old rows.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    recipient = models.CharField(_("recipient"), max_length=320, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    smtp_code = models.PositiveSmallIntegerField(_("SMTP code"), null=True, blank=True)
    smtp_reply = models.TextField(_("SMTP reply"), blank=True)
    step = models.CharField(_("SMTP step"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("mail event")
        verbose_name_plural = _("mail events")
        # The table kept its name when the model moved here from `mailer`.
        db_table = "mailer_mailevent"
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["user_code", "-created_at"], name="mailer_mail_user_co_4533ee_idx")
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user_code} {self.kind} {self.cause}"

    @property
    def text(self) -> str:
        """Return what happened, rendered now from the cause and its parameters."""
        if not self.params:
            return self.message
        return cause_render(self.cause, self.params, fallback=self.message)

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
