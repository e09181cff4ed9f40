"""Reading the event log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from events.models import MailEvent
from users.models import UserCard


def event_list(*, user_code: str | None = None) -> QuerySet[MailEvent]:
    """Return events newest first, optionally of one user (code compared case-insensitively)."""
    events = MailEvent.objects.all()
    if user_code:
        events = events.filter(user_code__iexact=user_code)
    return events


def event_recorded_since(*, card: UserCard, cause: str, since: datetime) -> bool:
    """Return whether the card already has an event with this cause since the given time."""
    return MailEvent.objects.filter(card=card, cause=cause, created_at__gte=since).exists()
