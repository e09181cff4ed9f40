"""How long received mail is kept: a retention period, and a cap on unattributed mail.

Events on cards are the log and stay; only the stored messages (raw bytes) go.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.utils import timezone

from deliverability.models import Attribution, InboundMessage

#: Rows are deleted in batches of this many, so a large purge never holds one long lock.
PURGE_BATCH = 1000


def _positive_setting(name: str) -> int:
    value = getattr(settings, name, None)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1 (got {value!r}).")
    return value


def inbound_retention_days_get() -> int:
    """Return for how many days received mail is kept (EVENT_MAILBOX_RETENTION_DAYS)."""
    return _positive_setting("EVENT_MAILBOX_RETENTION_DAYS")


def inbound_unattributed_limit_get() -> int:
    """Return how many unattributed messages are kept (EVENT_MAILBOX_UNATTRIBUTED_LIMIT)."""
    return _positive_setting("EVENT_MAILBOX_UNATTRIBUTED_LIMIT")


def _delete_in_batches(rows: QuerySet[InboundMessage]) -> int:
    deleted = 0
    while True:
        ids = list(rows.values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            return deleted
        InboundMessage.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def inbound_mail_purge(*, days: int | None = None) -> int:
    """Delete received mail older than `days` (default: the retention setting); return count."""
    days = inbound_retention_days_get() if days is None else days
    if days < 0:
        raise ValueError("days must not be negative")
    cutoff = timezone.now() - timedelta(days=days)
    return _delete_in_batches(InboundMessage.objects.filter(received_at__lt=cutoff).order_by())


def inbound_unattributed_trim(*, limit: int | None = None) -> int:
    """Keep only the newest `limit` unattributed messages; return how many were dropped."""
    limit = inbound_unattributed_limit_get() if limit is None else limit
    if limit < 1:
        raise ValueError("limit must be at least 1")
    unattributed = InboundMessage.objects.filter(attribution=Attribution.NONE)
    oldest_kept = unattributed.order_by("-id").values_list("pk", flat=True)[limit - 1 : limit]
    boundary = next(iter(oldest_kept), None)
    if boundary is None:
        return 0
    return _delete_in_batches(unattributed.filter(pk__lt=boundary).order_by())
