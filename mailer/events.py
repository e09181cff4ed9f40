"""A failed send as an event on the card (SPEC.md "Events")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.models import EventKind, MailEvent
from events.services import event_record

if TYPE_CHECKING:
    from mailer.services import SendError
    from users.models import UserCard


def mail_event_record_failure(
    *,
    card: UserCard,
    error: SendError,
    recipient: str = "",
    message_id: str = "",
) -> MailEvent:
    """Record a failed (or ambiguous) send on the card; the error carries no secret."""
    kind = EventKind.SEND_UNKNOWN if error.cause == "outcome_unknown" else EventKind.SEND_FAILED
    return event_record(
        card=card,
        kind=kind,
        cause=error.cause,
        message=error.user_message,
        recipient=recipient or (getattr(error, "recipient", None) or ""),
        message_id=message_id,
        smtp_code=getattr(error, "smtp_code", None),
        smtp_reply=getattr(error, "smtp_reply", "") or "",
        step=str(getattr(error, "step", "") or ""),
    )
