"""Invoices name a customer of their owner: demo data links them, the admin fills from them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command

from customers.models import Customer
from invoices.models import Invoice
from invoices.services import invoice_demo_create
from tests.factories import InvoiceFactory, UserCardFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/invoices/invoice/add/"


def _admin_post(client, **fields):
    data = {
        "number": "INV-9",
        "issue_date": "2026-03-02",
        "due_date": "2026-03-16",
        "currency": "EUR",
        "customer_name": "",
        "customer_email": "",
        "language": "en",
        "notes": "",
        "lines-TOTAL_FORMS": "0",
        "lines-INITIAL_FORMS": "0",
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
    }
    data.update({name: str(value) for name, value in fields.items()})
    return client.post(ADD, data)


@pytest.fixture
def admin_client_logged_in(client):
    admin = get_user_model().objects.create_superuser("ADMIN", "admin@example.test", "x-Pass-9")
    client.force_login(admin)
    return client


def test_invoice_admin_customer_fills_empty_name_address_and_language(admin_client_logged_in):
    """Choosing a customer with empty snapshot fields copies its name, address and language."""
    card = UserCardFactory(code="KIVI")
    customer = Customer.objects.create(
        owner=card, name="Tamm OÜ", email="tamm@example.test", language="et"
    )
    response = _admin_post(admin_client_logged_in, owner=card.pk, customer=customer.pk)
    assert response.status_code == 302, response.content.decode()[-3000:]
    invoice = Invoice.objects.get()
    assert (invoice.customer, invoice.customer_name, invoice.customer_email, invoice.language) == (
        customer,
        "Tamm OÜ",
        "tamm@example.test",
        "et",
    )


def test_invoice_admin_keeps_typed_snapshot_and_refuses_other_owners_customer(
    admin_client_logged_in,
):
    """Typed name and address stay as typed; another owner's customer is refused."""
    card, other = UserCardFactory(code="KIVI"), UserCardFactory(code="MARI")
    customer = Customer.objects.create(owner=card, name="Tamm OÜ", email="tamm@example.test")
    kept = _admin_post(
        admin_client_logged_in,
        owner=card.pk,
        customer=customer.pk,
        customer_name="Tamm OÜ, Tartu office",
        customer_email="tartu@tamm.test",
        language="lv",
    )
    assert kept.status_code == 302
    invoice = Invoice.objects.get()
    assert (invoice.customer_name, invoice.customer_email, invoice.language) == (
        "Tamm OÜ, Tartu office",
        "tartu@tamm.test",
        "lv",
    )
    refused = _admin_post(
        admin_client_logged_in, number="INV-10", owner=other.pk, customer=customer.pk
    )
    assert refused.status_code == 200
    assert "This customer belongs to another user" in refused.content.decode()
    nameless = _admin_post(admin_client_logged_in, number="INV-11", owner=card.pk)
    assert "Enter the customer&#x27;s name, or choose a customer." in nameless.content.decode()
    assert Invoice.objects.count() == 1


def test_invoice_admin_customer_autocomplete_searches_customers(admin_client_logged_in):
    """The invoice's customer field is an autocomplete over customers by name or address."""
    card = UserCardFactory(code="KIVI")
    Customer.objects.create(owner=card, name="Tamm OÜ", email="tamm@example.test")
    Customer.objects.create(owner=card, name="Smith", email="smith@example.test")
    page = admin_client_logged_in.get(ADD).content.decode()
    assert 'data-field-name="customer"' in page and "admin-autocomplete" in page
    found = admin_client_logged_in.get(
        "/admin/autocomplete/",
        {
            "app_label": "invoices",
            "model_name": "invoice",
            "field_name": "customer",
            "term": "tamm",
        },
    ).json()
    assert [result["text"] for result in found["results"]] == ["Tamm OÜ <tamm@example.test>"]


def test_invoice_admin_autocomplete_of_saved_invoice_offers_its_owners_customers_only(
    admin_client_logged_in,
):
    """A saved invoice's customer autocomplete carries its owner and finds only their customers."""
    card, other = UserCardFactory(code="KIVI"), UserCardFactory(code="MARI")
    Customer.objects.create(owner=card, name="Tamm Tartu", email="tartu@example.test")
    Customer.objects.create(owner=other, name="Tamm Riga", email="riga@example.test")
    invoice = InvoiceFactory(owner=card)
    page = admin_client_logged_in.get(f"/admin/invoices/invoice/{invoice.pk}/change/")
    assert f'data-ajax--url="/admin/autocomplete/?owner={card.pk}"' in page.content.decode()
    query = {"app_label": "invoices", "model_name": "invoice", "field_name": "customer"}
    found = admin_client_logged_in.get(
        "/admin/autocomplete/", {**query, "term": "tamm", "owner": card.pk}
    ).json()
    assert [result["text"] for result in found["results"]] == ["Tamm Tartu <tartu@example.test>"]
    everyone = admin_client_logged_in.get("/admin/autocomplete/", {**query, "term": "tamm"})
    assert len(everyone.json()["results"]) == 2


def test_invoice_model_refuses_other_owners_customer():
    """Invoice.clean names the customer field when the customer is another user's."""
    customer = Customer.objects.create(
        owner=UserCardFactory(code="MARI"), name="Theirs", email="t@example.test"
    )
    invoice = InvoiceFactory.build(owner=UserCardFactory(code="KIVI"), customer=customer)
    with pytest.raises(ValidationError) as refused:
        invoice.clean()
    assert "customer" in refused.value.message_dict


def test_demo_invoices_link_one_customer_per_address_of_the_owner():
    """create_demo_invoices makes or finds the owner's customer of each invoice's address."""
    card = UserCardFactory(code="KIVI")
    invoices = invoice_demo_create(owner_card=card, count=30, seed=5)
    Customer.objects.create(owner=UserCardFactory(code="MARI"), name="X", email="x@example.test")
    addresses = {invoice.customer_email.lower() for invoice in invoices}
    customers = Customer.objects.filter(owner=card)
    assert {customer.email.lower() for customer in customers} == addresses
    for invoice in Invoice.objects.filter(owner=card).select_related("customer"):
        assert invoice.customer.email.lower() == invoice.customer_email.lower()
    call_command(
        "create_demo_invoices", "--user", "KIVI", "--count", "30", "--seed", "5", stdout=StringIO()
    )
    # The same addresses again: the existing customers are reused, none is made twice.
    assert Customer.objects.filter(owner=card).count() == len(addresses)
    assert not Invoice.objects.filter(customer__isnull=True).exists()


def test_seed_demo_gives_demo_users_customers_once(settings):
    """seed_demo adds a few customers to each demo user; running it again adds none."""
    settings.DEVELOPMENT = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo customers (/personal/customers/)" in out.getvalue()
    codes = ("KIVI", "MARI", "JAAN", "LIIS", "MAILER")
    counts = {code: Customer.objects.filter(owner__code=code).count() for code in codes}
    assert counts == {"KIVI": 4, "MARI": 4, "JAAN": 4, "LIIS": 4, "MAILER": 0}
    call_command("seed_demo", stdout=StringIO())
    assert Customer.objects.count() == 16
