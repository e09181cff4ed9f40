"""Reading the event log for the event pages: one user's events, or all of them filtered."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from events.models import MailEvent
from massmail.models import OutgoingMail
from users.models import UserCard


def card_event_list(*, card: UserCard) -> QuerySet[MailEvent]:
    """Return the card's events, newest first (by link, or by code once the link is gone)."""
    return MailEvent.objects.filter(
        Q(card=card) | Q(card__isnull=True, user_code__iexact=card.code)
    )


def event_list_filtered(
    *, user_code: str = "", cause: str = "", kind: str = "", job_id: int | None = None
) -> QuerySet[MailEvent]:
    """Return all events newest first, filtered by user code, cause, kind and mass-mail job."""
    events = MailEvent.objects.select_related("card")
    if user_code:
        events = events.filter(user_code__iexact=user_code)
    if cause:
        events = events.filter(cause=cause)
    if kind:
        events = events.filter(kind=kind)
    if job_id is not None:
        message_ids = OutgoingMail.objects.filter(job_id=job_id).values("message_id")
        events = events.filter(message_id__in=message_ids)
    return events


def event_filter_choices() -> dict[str, list[str]]:
    """Return the user codes and causes that occur in the log, for the filter menus."""
    events = MailEvent.objects.order_by()
    return {
        "users": sorted(set(events.exclude(user_code="").values_list("user_code", flat=True))),
        "causes": sorted(set(events.exclude(cause="").values_list("cause", flat=True))),
    }
