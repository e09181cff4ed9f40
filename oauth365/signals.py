"""Signals Microsoft 365 sends; apps above react (mass mailing pauses the card's jobs)."""

from __future__ import annotations

from django.dispatch import Signal

#: A card's Microsoft 365 consent expired or was revoked: its token no longer works. Sent inside
#: the transaction that marked the connection, once per lapse, with `card` and `reason` (the
#: user's message: what happened and the fix).
m365_consent_lost = Signal()
