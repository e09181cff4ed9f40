"""Signals Microsoft 365 sends; apps above react (mass mailing pauses the card's jobs)."""

from __future__ import annotations

from django.dispatch import Signal

#: A card's Microsoft 365 consent expired or was revoked: its token no longer works. Sent inside
#: the transaction that marked the connection, once per lapse, with `card`, `error` (the
#: UserFacingError: keep its cause and parameters, so the text reads in each reader's
#: language) and `reason` (its message in the active language: what happened and the fix).
m365_consent_lost = Signal()
