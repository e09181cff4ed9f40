"""Celery beat task: keep idle Microsoft 365 token caches fresh, warn before consent lapses."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from oauth365.exceptions import M365AuthError
from oauth365.services import m365_consent_lapse_warn, m365_idle_card_ids, m365_token_keep_fresh

logger = logging.getLogger(__name__)

KEEP_FRESH_TASK = "oauth365.tokens_keep_fresh"


@shared_task(name=KEEP_FRESH_TASK)
def m365_tokens_keep_fresh() -> dict[str, int]:
    """Redeem the refresh token of every idle card, then warn where consent lapses soon."""
    now = timezone.now()
    counts = {"refreshed": 0, "failed": 0, "warned": 0}
    for card_id in m365_idle_card_ids(now=now):
        try:
            m365_token_keep_fresh(card_id=card_id)
        except M365AuthError as exc:
            # A revoked consent was recorded as an event by the service; transient failures
            # are tried again on the next run.
            counts["failed"] += 1
            logger.warning("Microsoft 365 keep-fresh of card %s failed: %s", card_id, exc.cause)
        else:
            counts["refreshed"] += 1
    counts["warned"] = m365_consent_lapse_warn(now=now)
    return counts
