"""Mail received by the event mailbox, kept (size-capped) for administrators to inspect."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from events.models import MailEvent
from users.models import UserCard

#: At most this many bytes of a received message are stored; the size field keeps the real size.
RAW_STORE_LIMIT = 256 * 1024


class InboundKind(models.TextChoices):
    BOUNCE = "bounce", _("Bounce (delivery failed)")
    DELAYED = "delayed", _("Delivery delayed")
    INBOUND = "inbound", _("Other mail")
    UNPARSABLE = "unparsable", _("Unparsable")


class Attribution(models.TextChoices):
    """How a received message was tied to a card: only by what its sender cannot forge."""

    NONE = "", _("Unattributed")
    VERP = "verp", _("Signed bounce address (VERP)")
    MESSAGE_ID = "message_id", _("Message-ID of a message sent to that recipient")


class InboundMessage(models.Model):
    """One message the event mailbox accepted: envelope, size, what it was, and its raw bytes."""

    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    envelope_from = models.CharField(_("envelope sender"), max_length=320, blank=True)
    envelope_to = models.TextField(
        _("envelope recipients"), blank=True, help_text=_("Envelope recipients, one a line.")
    )
    peer = models.CharField(_("sending server"), max_length=100, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    kind = models.CharField(_("kind"), max_length=12, choices=InboundKind.choices, db_index=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    original_message_id = models.CharField(
        _("Message-ID of the original message"), max_length=998, blank=True, db_index=True
    )
    bounce_format = models.CharField(_("bounce format"), max_length=20, blank=True)
    parse_error = models.CharField(_("reading error"), max_length=500, blank=True)
    raw = models.BinaryField(_("message as received"), blank=True)
    raw_truncated = models.BooleanField(_("stored in part (too large)"), default=False)
    events = models.ManyToManyField(
        MailEvent, verbose_name=_("events"), blank=True, related_name="inbound_messages"
    )
    card = models.ForeignKey(
        UserCard,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_messages",
        verbose_name=_("user card"),
        help_text=_("The card whose mail this is about; empty when nothing unforgeable says so."),
    )
    attribution = models.CharField(
        _("attribution"), max_length=12, choices=Attribution.choices, blank=True
    )

    class Meta:
        verbose_name = _("received message")
        verbose_name_plural = _("received messages")
        ordering: ClassVar = ["-received_at", "-id"]
        indexes: ClassVar = [
            # The cap on unattributed mail drops the oldest rows of that kind.
            models.Index(fields=["attribution", "id"], name="deliverability_inbound_attr"),
        ]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M} {self.kind} from {self.envelope_from or '<>'}"
