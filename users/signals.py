"""Signals the user card sends; apps above `users` react to them (oauth365 drops tokens)."""

from __future__ import annotations

from django.dispatch import Signal

#: A card's mail server host changed (or, for the global card, the host every inheriting card
#: uses): the stored secrets of `card_ids` must not follow it. Sent with `card_ids` (a list).
card_server_changed = Signal()
