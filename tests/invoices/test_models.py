"""Invoice totals, rounding, constraints and the customer address check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import strategies as st

from invoices.models import CENT, Invoice, money_round, totals_compute
from tests.factories import InvoiceFactory, InvoiceLineFactory, invoice_with_lines

quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("10000"), places=3)
prices = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("100000"), places=4)
rates = st.sampled_from([Decimal(r) for r in ("0", "5", "9", "12", "21", "22", "23", "24")])


@given(st.lists(st.tuples(quantities, prices, rates), min_size=0, max_size=12))
def test_totals_compute_total_is_subtotal_plus_vat(lines):
    """Total is subtotal plus VAT; each is in cents; VAT is within rounding of the rate."""
    totals = totals_compute(lines)
    assert totals.total == totals.subtotal + totals.vat
    for amount in (totals.subtotal, totals.vat, totals.total):
        assert amount == amount.quantize(CENT)
    assert totals.subtotal == sum((money_round(q * p) for q, p, _ in lines), Decimal(0))
    exact_vat = sum((money_round(q * p) * r / 100 for q, p, r in lines), Decimal(0))
    assert abs(totals.vat - exact_vat) <= Decimal("0.005") * len({r for _, _, r in lines})


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0.125", "0.13"), ("0.135", "0.14"), ("-0.125", "-0.13"), ("2.675", "2.68"), ("1", "1.00")],
)
def test_money_round_half_up_to_cents(amount, expected):
    """Amounts round half away from zero to cents (2.675 → 2.68, unlike binary floats)."""
    assert money_round(Decimal(amount)) == Decimal(expected)
    assert str(money_round(Decimal(amount))) == expected


def test_totals_compute_vat_rounded_per_rate_not_per_line():
    """VAT is rounded once per rate: three lines of 0.02 at 22 % give 0.01, not 0.00."""
    totals = totals_compute([(Decimal(1), Decimal("0.02"), Decimal(22))] * 3)
    assert (totals.subtotal, totals.vat, totals.total) == (
        Decimal("0.06"),
        Decimal("0.01"),
        Decimal("0.07"),
    )


@pytest.mark.django_db
def test_invoice_totals_recompute_stores_totals_of_lines():
    """The stored totals follow the lines: 1+2+3 units at 12.35 with 22 % VAT."""
    invoice = invoice_with_lines(3)
    invoice.refresh_from_db()
    assert invoice.subtotal == Decimal("74.10")
    assert invoice.vat == Decimal("16.30")
    assert invoice.total == Decimal("90.40")


@pytest.mark.django_db
def test_invoice_total_constraint_refuses_inconsistent_total():
    """The database refuses a total that is not subtotal plus VAT."""
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(subtotal=Decimal("10.00"), vat=Decimal("2.20"), total=Decimal("12.00"))


@pytest.mark.django_db
def test_invoice_due_date_constraint_refuses_due_before_issue():
    """The database refuses a due date before the issue date."""
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(issue_date=date(2026, 3, 2), due_date=date(2026, 3, 1))


@pytest.mark.django_db
def test_invoice_line_net_amount_rounds_half_up():
    """A line's net amount is quantity times unit price rounded half up to cents."""
    line = InvoiceLineFactory(quantity=Decimal("0.5"), unit_price=Decimal("0.0250"))
    assert line.net_amount == Decimal("0.01")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("", "has no customer e-mail address"),
        ("   ", "has no customer e-mail address"),
        ("not-an-address", "is not a valid e-mail address"),
        ("a@example.test; b@example.test", "more than one address"),
        ("a@example.test\nBcc: x@evil.test", "line break"),
        ("user@", "is not a valid e-mail address"),
    ],
)
def test_invoice_customer_email_problem_names_the_problem(address, fragment):
    """A blank, invalid or multiple address is stored as is and its problem is named."""
    invoice = InvoiceFactory(number="A-1", customer_email=address)
    invoice.refresh_from_db()
    assert invoice.customer_email == address
    problem = invoice.customer_email_problem()
    assert problem is not None
    assert fragment in problem
    assert "A-1" in problem


@pytest.mark.django_db
def test_invoice_customer_email_problem_none_for_valid_address():
    """A single valid address (surrounding spaces allowed) has no problem."""
    invoice = InvoiceFactory(customer_email=" arved@põhja-puit.example.test ")
    assert invoice.customer_email_problem() is None


@pytest.mark.django_db
def test_invoice_number_unique():
    """Two invoices cannot share a number."""
    InvoiceFactory(number="DUP-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(number="DUP-1")
    assert Invoice.objects.filter(number="DUP-1").count() == 1


@pytest.mark.django_db
def test_invoice_admin_changelist_searches_and_shows_address_problem(admin_client):
    """The admin list searches by customer and marks an unusable customer address."""
    InvoiceFactory(number="S-1", customer_name="Saare Kala OÜ", customer_email="bad-address")
    InvoiceFactory(number="S-2", customer_name="Viru Tehnika AS")
    response = admin_client.get("/admin/invoices/invoice/", {"q": "Saare"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "S-1" in content
    assert "S-2" not in content
    assert 'alt="False"' in content


@pytest.mark.django_db
def test_invoice_admin_add_computes_totals_from_lines(admin_client):
    """Saving an invoice with lines in the admin stores the computed totals."""
    owner = InvoiceFactory().owner
    prefix_lines, prefix_files = "lines", "attachments"
    response = admin_client.post(
        "/admin/invoices/invoice/add/",
        {
            "number": "ADM-1",
            "owner": owner.pk,
            "issue_date": "2026-03-02",
            "due_date": "2026-03-16",
            "currency": "EUR",
            "customer_name": "Kuusiku Mööbel OÜ",
            "customer_email": "arved@kuusiku.example.test",
            "language": "et",
            "notes": "",
            f"{prefix_lines}-TOTAL_FORMS": "1",
            f"{prefix_lines}-INITIAL_FORMS": "0",
            f"{prefix_lines}-0-position": "1",
            f"{prefix_lines}-0-description": "Office chairs (pcs)",
            f"{prefix_lines}-0-quantity": "3",
            f"{prefix_lines}-0-unit_price": "99.99",
            f"{prefix_lines}-0-vat_rate": "22",
            f"{prefix_files}-TOTAL_FORMS": "0",
            f"{prefix_files}-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    invoice = Invoice.objects.get(number="ADM-1")
    assert (invoice.subtotal, invoice.vat, invoice.total) == (
        Decimal("299.97"),
        Decimal("65.99"),
        Decimal("365.96"),
    )
