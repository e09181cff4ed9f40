"""A failed send as an event on the card (SPEC.md "Events")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.models import EventKind, MailEvent
from events.services import event_record
from mailer.causes import MailCause
from mailer.exceptions import MailDeliveryError, SmtpDetails

if TYPE_CHECKING:
    from events.errors import UserFacingError
    from users.models import UserCard


def mail_event_record_failure(
    *,
    card: UserCard,
    error: UserFacingError,
    recipient: str = "",
    message_id: str = "",
) -> MailEvent:
    """Record a failed (or ambiguous) send on the card: its cause, parameters and SMTP facts."""
    kind = (
        EventKind.SEND_UNKNOWN
        if error.cause == MailCause.OUTCOME_UNKNOWN
        else EventKind.SEND_FAILED
    )
    smtp = error.smtp if isinstance(error, MailDeliveryError) else SmtpDetails()
    return event_record(
        card=card,
        kind=kind,
        cause=error.cause,
        params=error.params,
        message=error.message,
        recipient=recipient or smtp.recipient,
        message_id=message_id,
        smtp_code=smtp.code,
        smtp_reply=smtp.reply,
        step=smtp.step,
    )
