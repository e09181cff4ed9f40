"""Demo invoices: the service and the create_demo_invoices command."""

from __future__ import annotations

import re
import time
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from invoices.models import Invoice, InvoiceAttachment, InvoiceLine
from invoices.services import invoice_demo_create
from tests.factories import UserCardFactory

pytestmark = pytest.mark.django_db


def test_invoice_demo_create_lines_and_consistent_totals():
    """Each demo invoice has 1-8 lines, stored totals equal to its lines', valid dates."""
    card = UserCardFactory(code="DEMO1")
    created = invoice_demo_create(owner_card=card, count=40, seed=7, today=date(2026, 6, 1))
    assert len(created) == Invoice.objects.filter(owner=card).count() == 40
    for invoice in Invoice.objects.filter(owner=card).prefetch_related("lines"):
        assert 1 <= len(invoice.lines.all()) <= 8
        totals = invoice.totals_from_lines()
        assert (invoice.subtotal, invoice.vat, invoice.total) == (
            totals.subtotal,
            totals.vat,
            totals.total,
        )
        assert invoice.total == invoice.subtotal + invoice.vat > 0
        assert all(line.vat_rate == 22 for line in invoice.lines.all())
        assert date(2026, 4, 1) <= invoice.issue_date <= date(2026, 6, 1)
        assert invoice.due_date > invoice.issue_date


def test_invoice_demo_create_customer_addresses_at_domain():
    """Every demo customer has a valid address at the given domain."""
    card = UserCardFactory(code="DEMO2")
    created = invoice_demo_create(owner_card=card, count=30, domain="Bench.Example.test", seed=1)
    for invoice in created:
        assert invoice.customer_email.endswith("@bench.example.test")
        assert invoice.customer_email_problem() is None


def test_invoice_demo_create_numbers_continue_across_runs():
    """A second run continues the numbering: no duplicates, no gaps."""
    card = UserCardFactory(code="DEMO3")
    first = invoice_demo_create(owner_card=card, count=3, seed=1)
    second = invoice_demo_create(owner_card=card, count=2, seed=1)
    numbers = [invoice.number for invoice in first + second]
    assert numbers == [f"INV-{n:07d}" for n in range(1, 6)]


def test_invoice_demo_create_some_invoices_have_files():
    """A small share of demo invoices carries a file of its own."""
    card = UserCardFactory(code="DEMO4")
    invoice_demo_create(owner_card=card, count=400, seed=11)
    with_files = Invoice.objects.filter(owner=card, attachments__isnull=False).distinct().count()
    assert 5 <= with_files <= 60
    attachment = InvoiceAttachment.objects.filter(invoice__owner=card).first()
    assert attachment.filename.endswith(".csv")
    assert bytes(attachment.data).startswith(b"position;description;quantity")


def test_invoice_demo_create_refuses_bad_domain():
    """A domain that cannot form an e-mail address is refused before anything is created."""
    card = UserCardFactory(code="DEMO5")
    with pytest.raises(ValueError, match="not a usable e-mail domain"):
        invoice_demo_create(owner_card=card, count=2, domain="not a domain")
    assert not Invoice.objects.filter(owner=card).exists()


def test_create_demo_invoices_reports_count_and_id_range():
    """The command creates N invoices with lines and prints the count and the id range."""
    card = UserCardFactory(code="KIVI")
    out = StringIO()
    call_command("create_demo_invoices", "--user", "kivi", "--count", "5", stdout=out)
    ids = sorted(Invoice.objects.filter(owner=card).values_list("pk", flat=True))
    assert len(ids) == 5
    assert InvoiceLine.objects.filter(invoice__owner=card).count() >= 5
    assert f"Created 5 invoices for KIVI (ids {ids[0]}..{ids[-1]}" in out.getvalue()


def test_create_demo_invoices_unknown_user_fails_clearly():
    """An unknown user code is an error naming the code; nothing is created."""
    with pytest.raises(CommandError, match="No user card has the code “NOPE”"):
        call_command("create_demo_invoices", "--user", "NOPE", "--count", "3")
    assert Invoice.objects.count() == 0


@pytest.mark.parametrize("count", ["0", "-4"])
def test_create_demo_invoices_count_below_one_fails(count):
    """N below 1 is an error saying so."""
    UserCardFactory(code="KASK")
    with pytest.raises(CommandError, match=r"--count must be at least 1"):
        call_command("create_demo_invoices", "--user", "KASK", "--count", count)


def test_create_demo_invoices_bad_domain_fails():
    """A bad --domain is a command error, not a traceback."""
    UserCardFactory(code="MANN")
    with pytest.raises(CommandError, match="not a usable e-mail domain"):
        call_command("create_demo_invoices", "--user", "MANN", "--count", "1", "--domain", "@@")


def test_create_demo_invoices_thousand_is_quick():
    """A thousand invoices with their lines are created in bulk within a few seconds."""
    UserCardFactory(code="BENCH")
    out = StringIO()
    started = time.perf_counter()
    call_command("create_demo_invoices", "--user", "BENCH", "--count", "1000", stdout=out)
    elapsed = time.perf_counter() - started
    assert Invoice.objects.filter(owner__code="BENCH").count() == 1000
    assert re.search(r"Created 1000 invoices", out.getvalue())
    assert elapsed < 10, f"1000 demo invoices took {elapsed:.1f} s"
