"""The move of Customer from letters to customers, and the invoices' link to customers, on rows."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserCardFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BEFORE_MOVE = [("customers", None)]
#: The models while customers are still letters' (what BEFORE_MOVE leaves applied).
LETTERS_STATE = [("letters", "0001_initial")]
BEFORE_LINK = [("invoices", "0004_invoice_customer")]


def _migrate(targets, state=None):
    """Migrate the test database to `targets`; return the models of `state` (else targets)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    ContentType.objects.clear_cache()
    return executor.loader.project_state(state or targets).apps


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _tables():
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.fixture
def back_to_latest():
    """Whatever a test does to the schema, the database ends at the latest migrations."""
    yield
    _migrate(_leaves())


def test_customer_move_keeps_rows_permissions_and_unique_rule_both_ways(back_to_latest):
    """Forward the rows, ids and granted permissions follow to customers; backward they return."""
    card = UserCardFactory(code="KIVI")
    old = _migrate(BEFORE_MOVE, LETTERS_STATE)
    assert "letters_customer" in _tables() and "customers_customer" not in _tables()
    OldCustomer = old.get_model("letters", "Customer")
    first = OldCustomer.objects.create(owner_id=card.pk, name="Tamm OÜ", email="Tamm@example.test")
    OldCustomer.objects.create(
        owner_id=card.pk, name="Smith", email="smith@example.test", language="pl"
    )
    letters_type, _ = ContentType.objects.get_or_create(app_label="letters", model="customer")
    change, _ = Permission.objects.get_or_create(
        content_type=letters_type, codename="change_customer", defaults={"name": "Can change"}
    )
    group = Group.objects.create(name="customer editors")
    group.permissions.add(change)

    new = _migrate(_leaves())
    assert "customers_customer" in _tables() and "letters_customer" not in _tables()
    Customer = new.get_model("customers", "Customer")
    assert sorted(Customer.objects.values_list("pk", "name", "language")) == [
        (first.pk, "Tamm OÜ", "en"),
        (first.pk + 1, "Smith", "pl"),
    ]
    [granted] = Group.objects.get(pk=group.pk).permissions.all()
    assert (granted.pk, granted.content_type.app_label, granted.codename) == (
        change.pk,
        "customers",
        "change_customer",
    )
    assert not ContentType.objects.filter(app_label="letters", model="customer").exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(owner_id=card.pk, name="Again", email="tamm@EXAMPLE.test")
    added = Customer.objects.create(owner_id=card.pk, name="New", email="new@example.test")

    back = _migrate(BEFORE_MOVE, LETTERS_STATE)
    assert "letters_customer" in _tables() and "customers_customer" not in _tables()
    assert back.get_model("letters", "Customer").objects.count() == 3
    assert Group.objects.get(pk=group.pk).permissions.get().content_type.app_label == "letters"
    with pytest.raises(IntegrityError), transaction.atomic():
        back.get_model("letters", "Customer").objects.create(
            owner_id=card.pk, name="Again", email="NEW@example.test"
        )
    assert added.pk


def _invoice(Invoice, card, number, name, address, language="en"):
    return Invoice.objects.create(
        number=number,
        owner_id=card.pk,
        customer_name=name,
        customer_email=address,
        language=language,
        issue_date=date(2026, 3, number_day(number)),
        due_date=date(2026, 4, 30),
    )


def number_day(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


def test_invoice_link_migration_finds_or_makes_the_owners_customer_by_address(back_to_latest):
    """Each invoice gets its owner's customer of its address (any case); bad addresses get none."""
    kivi, mari = UserCardFactory(code="KIVI"), UserCardFactory(code="MARI")
    old = _migrate(BEFORE_LINK)
    Invoice = old.get_model("invoices", "Invoice")
    Customer = old.get_model("customers", "Customer")
    known = Customer.objects.create(owner_id=kivi.pk, name="Tamm OÜ", email="tamm@example.test")
    invoices = {
        "known": _invoice(Invoice, kivi, "A-1", "Tamm", " TAMM@example.test "),
        "older": _invoice(Invoice, kivi, "A-2", "Kowalski (old)", "kow@example.test", "pl"),
        "newer": _invoice(Invoice, kivi, "A-3", "Kowalski", "Kow@Example.test", "pl"),
        "other owner": _invoice(Invoice, mari, "A-4", "Kowalski", "kow@example.test", "lv"),
        "blank": _invoice(Invoice, kivi, "A-5", "Nobody", ""),
        "several": _invoice(Invoice, kivi, "A-6", "Two", "a@example.test, b@example.test"),
        "broken": _invoice(Invoice, kivi, "A-7", "Broken", "broken@"),
    }

    new = _migrate(_leaves())
    Invoice = new.get_model("invoices", "Invoice")
    Customer = new.get_model("customers", "Customer")
    linked = {key: Invoice.objects.get(pk=invoice.pk).customer for key, invoice in invoices.items()}
    assert linked["known"].pk == known.pk
    assert linked["older"] == linked["newer"] != linked["other owner"]
    made = linked["newer"]
    assert (made.owner_id, made.name, made.email, made.language) == (
        kivi.pk,
        "Kowalski",
        "Kow@Example.test",
        "pl",
    )
    assert (linked["other owner"].owner_id, linked["other owner"].language) == (mari.pk, "lv")
    assert linked["blank"] is linked["several"] is linked["broken"] is None
    assert Customer.objects.count() == 3
    assert Invoice.objects.get(pk=invoices["broken"].pk).customer_email == "broken@"

    back = _migrate(BEFORE_LINK)
    assert not back.get_model("invoices", "Invoice").objects.filter(customer__isnull=False).exists()
    assert back.get_model("customers", "Customer").objects.count() == 3
