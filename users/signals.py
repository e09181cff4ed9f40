"""Signals the user card sends; apps above `users` react to them (oauth365 drops tokens)."""

from __future__ import annotations

from django.dispatch import Signal

#: A card's mail server host changed (or, for the global card, the host every inheriting card
#: uses): the stored secrets of `card_ids` must not follow it. Sent with `card_ids` (a list).
card_server_changed = Signal()

#: seed_demo made (or found) the demo cards: apps above add their own demo data for them
#: (customers adds customers). Sent with `cards` (the cards people log in with) inside the
#: seeding transaction; a receiver returns a line for the command to print, or None.
demo_cards_seeded = Signal()
