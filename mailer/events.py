"""Recording and listing mail events (SPEC.md "Events")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from mailer.models import EventKind, MailEvent

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
    return MailEvent.objects.create(
        card=card,
        user_code=card.code,
        kind=kind,
        cause=error.cause,
        message=error.user_message,
        recipient=recipient or (getattr(error, "recipient", None) or ""),
        message_id=message_id,
        smtp_code=getattr(error, "smtp_code", None),
        smtp_reply=getattr(error, "smtp_reply", "") or "",
        step=str(getattr(error, "step", "") or ""),
    )


def mail_event_list(*, user_code: str | None = None) -> QuerySet[MailEvent]:
    """Return events newest first, optionally of one user (code compared case-insensitively)."""
    events = MailEvent.objects.all()
    if user_code:
        events = events.filter(user_code__iexact=user_code)
    return events
