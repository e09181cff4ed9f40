"""Customers made in code: the demo customers of a user."""

from __future__ import annotations

from letters.models import Customer
from users.models import Language, UserCard

_NAMES = ("Baltic Timber", "Tallinn Foods", "Riga Print", "Gdansk Steel", "Tartu Dairy")
_LANGUAGES = (Language.ENGLISH, Language.ESTONIAN, Language.LATVIAN, Language.POLISH)


def customers_demo_create(*, owner_card: UserCard, count: int) -> list[Customer]:
    """Create `count` new demo customers (addresses under example.test), each language in turn."""
    taken = {email.lower() for email in owner_card.customers.values_list("email", flat=True)}
    made: list[Customer] = []
    number = 0
    while len(made) < count:
        number += 1
        email = f"customer{number}.{owner_card.code.lower()}@example.test"
        if email in taken:
            continue
        name = f"{_NAMES[number % len(_NAMES)]} {number}"
        language = _LANGUAGES[number % len(_LANGUAGES)]
        made.append(Customer(owner=owner_card, name=name, email=email, language=language))
    return Customer.objects.bulk_create(made)
