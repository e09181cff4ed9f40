"""Customers made and changed in code: by their owner's page, by demo data and by invoices."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, models, transaction
from django.db.models import Count, ProtectedError, QuerySet
from django.db.models.functions import Lower
from django.utils.text import capfirst

from customers.models import Customer, address_problem
from users.models import Language, UserCard

_NAMES = ("Baltic Timber", "Tallinn Foods", "Riga Print", "Gdansk Steel", "Tartu Dairy")
_LANGUAGES = (Language.ENGLISH, Language.ESTONIAN, Language.LATVIAN, Language.POLISH)


class CustomerAddressTakenError(ValueError):
    """The owner already has a customer with this address (in any letter case)."""


class CustomerInUseError(Exception):
    """Documents refer to the customer, so it cannot be deleted; `references` says which."""

    def __init__(self, references: list[tuple[str, int]]) -> None:
        super().__init__(references)
        self.references = references


@dataclass(frozen=True)
class CustomerRow:
    """One customer of the owner's list and how many documents of each kind refer to it."""

    customer: Customer
    counts: list[int]


def customer_references() -> list[tuple[str, str]]:
    """Return (query name, plural label) of each kind of document that refers to customers.

    The documents (invoices) live in apps above this one: they are found through their
    foreign keys to Customer, never imported.
    """
    return [
        (related.name, str(capfirst(related.related_model._meta.verbose_name_plural)))
        for related in Customer._meta.related_objects
        if isinstance(related, models.ManyToOneRel)
    ]


def _counted(customers: QuerySet[Customer]) -> list[CustomerRow]:
    names = [name for name, _label in customer_references()]
    annotated = customers.annotate(
        **{f"count_{name}": Count(name, distinct=True) for name in names}
    )
    return [
        CustomerRow(customer, [getattr(customer, f"count_{name}") for name in names])
        for customer in annotated
    ]


def customers_with_counts(*, owner_card: UserCard) -> list[CustomerRow]:
    """Return the owner's customers, each with the number of documents of each kind."""
    return _counted(Customer.objects.filter(owner=owner_card))


def customer_address_taken(*, owner_card: UserCard, email: str, exclude_pk: int | None) -> bool:
    """Return whether another customer of the owner has this address (case ignored)."""
    others = Customer.objects.filter(owner=owner_card).annotate(address=Lower("email"))
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.filter(address=email.strip().lower()).exists()


def customer_save(*, customer: Customer) -> Customer:
    """Save a new or changed customer; raise CustomerAddressTakenError for a taken address."""
    customer.email = customer.email.strip()
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:
        # Another request saved the address between the form's check and this save.
        taken = customer_address_taken(
            owner_card=customer.owner, email=customer.email, exclude_pk=customer.pk
        )
        if taken:
            raise CustomerAddressTakenError(customer.email) from exc
        raise
    return customer


def customer_delete(*, customer: Customer) -> None:
    """Delete the customer; raise CustomerInUseError while documents refer to it."""
    rows = _counted(Customer.objects.filter(pk=customer.pk))
    counts = rows[0].counts if rows else []
    labels = [label for _name, label in customer_references()]
    references = [(label, count) for label, count in zip(labels, counts, strict=False) if count]
    if references:
        raise CustomerInUseError(references)
    try:
        with transaction.atomic():
            customer.delete()
    except ProtectedError as exc:
        # A document came to refer to it between the count and the delete.
        meta = next(iter(exc.protected_objects))._meta
        label = capfirst(meta.verbose_name_plural)
        raise CustomerInUseError([(str(label), len(exc.protected_objects))]) from exc


def customers_for_addresses(
    *, owner_card: UserCard, wanted: Iterable[tuple[str, str, str]]
) -> dict[str, Customer]:
    """Return the owner's customer of each (name, address, language), made when missing.

    Keyed by the lower-case address; an address that cannot be mailed to gets no customer
    (its document still exists and fails only when it is mailed).
    """
    firsts: dict[str, tuple[str, str, str]] = {}
    for name, address, language in wanted:
        address = address.strip()
        if address_problem(address) is None:
            firsts.setdefault(address.lower(), (name, address, language))
    found: dict[str, Customer] = {
        customer.address: customer
        for customer in Customer.objects.filter(owner=owner_card)
        .annotate(address=Lower("email"))
        .filter(address__in=firsts)
    }
    missing = [
        Customer(
            owner=owner_card,
            name=(name or address)[:200],
            email=address,
            language=language if language in Language.values else Language.ENGLISH,
        )
        for key, (name, address, language) in firsts.items()
        if key not in found
    ]
    for customer in Customer.objects.bulk_create(missing):
        found[customer.email.lower()] = customer
    return found


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
