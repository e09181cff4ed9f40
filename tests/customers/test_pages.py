"""/personal/customers/: a user without admin rights manages their own customers only."""

from __future__ import annotations

import re

import pytest
from django.db.models import ProtectedError

from customers.models import Customer
from tests.factories import InvoiceFactory, UserCardFactory

pytestmark = pytest.mark.django_db

LIST = "/personal/customers/"
ADD = "/personal/customers/add/"


def _edit(customer: Customer) -> str:
    return f"/personal/customers/{customer.pk}/"


def _delete(customer: Customer) -> str:
    return f"/personal/customers/{customer.pk}/delete/"


@pytest.fixture
def kivi(client):
    card = UserCardFactory(code="KIVI")
    assert not card.user.is_staff
    client.force_login(card.user)
    return card


def test_customer_page_non_staff_user_adds_edits_and_deletes_own_customer(client, kivi):
    """Add, change and delete work without admin rights and say what happened."""
    added = client.post(
        ADD, {"name": "Tamm OÜ", "email": " tamm@example.test ", "language": "et"}, follow=True
    )
    customer = Customer.objects.get()
    assert (customer.owner, customer.name, customer.email, customer.language) == (
        kivi,
        "Tamm OÜ",
        "tamm@example.test",
        "et",
    )
    page = added.content.decode()
    assert added.redirect_chain == [(LIST, 302)]
    assert "The customer Tamm OÜ was added." in page and 'aria-live="polite"' in page
    edited = client.post(
        _edit(customer), {"name": "Tamm AS", "email": "arved@tamm.test", "language": "pl"}
    )
    assert edited.status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.language) == (
        "Tamm AS",
        "arved@tamm.test",
        "pl",
    )
    assert "Delete the customer Tamm AS?" in client.get(_delete(customer)).content.decode()
    deleted = client.post(_delete(customer), follow=True)
    assert not Customer.objects.exists()
    assert "The customer Tamm AS was deleted." in deleted.content.decode()


def test_customer_page_lists_own_customers_with_invoice_counts(client, kivi):
    """The list shows the user's customers and how many invoices name each; not others'."""
    tamm = Customer.objects.create(owner=kivi, name="Tamm OÜ", email="tamm@example.test")
    Customer.objects.create(owner=kivi, name="Smith Ltd", email="smith@example.test")
    other = UserCardFactory(code="MARI")
    Customer.objects.create(owner=other, name="Theirs", email="theirs@example.test")
    for _ in range(2):
        InvoiceFactory(owner=kivi, customer=tamm)
    page = client.get(LIST).content.decode()
    assert "Tamm OÜ" in page and "smith@example.test" in page and "Theirs" not in page
    assert '<th scope="col" class="amount">Invoices</th>' in page
    row = page[page.index(f'id="customer-{tamm.pk}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="amount">2</td>' in row
    assert "2 customers" in page


def test_customer_page_other_users_customer_is_not_found(client, kivi):
    """Another user's customer cannot be seen, changed or deleted: 404, and it stays as it was."""
    theirs = Customer.objects.create(
        owner=UserCardFactory(code="MARI"), name="Theirs", email="theirs@example.test"
    )
    assert client.get(_edit(theirs)).status_code == 404
    changed = client.post(
        _edit(theirs), {"name": "Mine", "email": "x@example.test", "language": "en"}
    )
    assert changed.status_code == 404
    assert client.get(_delete(theirs)).status_code == 404
    assert client.post(_delete(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.email) == ("Theirs", "theirs@example.test")


def test_customer_form_duplicate_address_is_a_form_error(client, kivi):
    """An address the user already has (any letter case) is refused on the form, named."""
    Customer.objects.create(owner=kivi, name="Tamm OÜ", email="tamm@example.test")
    other = Customer.objects.create(owner=kivi, name="Smith", email="smith@example.test")
    Customer.objects.create(owner=UserCardFactory(code="MARI"), name="A", email="a@example.test")
    response = client.post(ADD, {"name": "Again", "email": "TAMM@example.test", "language": "en"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "You already have a customer with the address “TAMM@example.test”." in page
    assert 'role="alert"' in page
    changed = client.post(
        _edit(other), {"name": "Smith", "email": "tamm@EXAMPLE.test", "language": "en"}
    )
    assert changed.status_code == 400
    # Another user's address is no clash, and keeping one's own address is no clash either.
    assert (
        client.post(ADD, {"name": "A", "email": "a@example.test", "language": "en"}).status_code
        == 302
    )
    kept = client.post(
        _edit(other), {"name": "Smith Ltd", "email": "SMITH@example.test", "language": "lv"}
    )
    assert kept.status_code == 302
    assert Customer.objects.filter(owner=kivi).count() == 3


@pytest.mark.parametrize("address", ["broken@", "a@example.test, b@example.test", "no at sign"])
def test_customer_form_bad_address_is_named(client, kivi, address):
    """A malformed address or several addresses are refused, naming what was typed."""
    response = client.post(ADD, {"name": "Broken", "email": address, "language": "en"})
    assert response.status_code == 400
    assert f"“{address}” is not a single valid e-mail address." in response.content.decode()
    assert not Customer.objects.exists()


def test_customer_form_offers_the_card_languages(client, kivi):
    """The language choices are the card's: English, Estonian, Latvian, Polish."""
    page = client.get(ADD).content.decode()
    for code in ("en", "et", "lv", "pl"):
        assert f'<option value="{code}"' in page
    assert '<label for="id_name">' in page and '<label for="id_email">' in page
    assert '<label for="id_language">' in page


def test_customer_delete_refused_while_invoices_name_it(client, kivi):
    """PROTECT: a customer that invoices name is kept, and the page says why."""
    customer = Customer.objects.create(owner=kivi, name="Tamm OÜ", email="tamm@example.test")
    invoice = InvoiceFactory(owner=kivi, customer=customer)
    with pytest.raises(ProtectedError):
        customer.delete()
    response = client.post(_delete(customer), follow=True)
    page = response.content.decode()
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert "The customer Tamm OÜ was not deleted: documents refer to it (Invoices: 1)." in page
    invoice.customer = None
    invoice.save()
    client.post(_delete(customer))
    assert not Customer.objects.exists()


def test_customer_page_needs_login(client):
    """An anonymous visitor is sent to the login page."""
    response = client.get(LIST)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_customer_page_in_estonian_and_linked_from_navigation_letters_invoices(client):
    """The page reads in Estonian; the navigation, letters and invoices pages link to it."""
    card = UserCardFactory(code="MARI", language="et")
    client.force_login(card.user)
    page = client.get(LIST, headers={"accept-language": "et"}).content.decode()
    assert "Minu kliendid" in page and "Lisa klient" in page and "My customers" not in page
    for path in ("/personal/letters/", "/personal/invoices/", "/personal/user/"):
        assert f'href="{LIST}"' in client.get(path).content.decode(), path


def test_customer_page_messages_are_a_live_region_around_a_real_list(client, kivi):
    """The message after a change is announced (aria-live) and its items stay a list (axe)."""
    page = client.post(
        ADD, {"name": "Tamm OÜ", "email": "tamm@example.test", "language": "et"}, follow=True
    ).content.decode()
    region = page[page.index('<div role="status" aria-live="polite">') :]
    region = region[: region.index("</div>")]
    assert '<ul class="messages">' in region and "The customer Tamm OÜ was added." in region
    assert not re.search(r"<ul[^>]*\brole=", page)
