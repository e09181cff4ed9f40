"""What customers does when apps below it announce something (users.signals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from customers.services import customers_demo_create
from users.models import UserCard

#: The demo customers of each demo card that has none yet.
DEMO_CUSTOMERS_PER_CARD = 4


def demo_customers_create(*, cards: Sequence[UserCard], **_kwargs: Any) -> str | None:
    """Give each demo card without customers a few demo customers; say which cards got them."""
    given = []
    for card in cards:
        if not card.customers.exists():
            customers_demo_create(owner_card=card, count=DEMO_CUSTOMERS_PER_CARD)
            given.append(card.code)
    if not given:
        return None
    return (
        f"Demo customers (/personal/customers/): {DEMO_CUSTOMERS_PER_CARD} each for "
        f"{', '.join(given)}"
    )
