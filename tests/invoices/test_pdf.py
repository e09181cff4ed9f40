"""The invoice PDF: valid, one page, deterministic, with the invoice's text."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from invoices import pdf as invoice_pdf
from invoices.pdf import invoice_pdf_render
from tests.factories import (
    InvoiceLineFactory,
    UserCardFactory,
    invoice_with_lines,
    system_settings_set,
)
from tests.invoices import pdf_text

pytestmark = pytest.mark.django_db


def _xref_check(data: bytes) -> int:
    """Check the cross-reference table against the objects; return the number of objects."""
    startxref = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    assert data[startxref : startxref + 4] == b"xref"
    header = re.match(rb"xref\s+0 (\d+)\s+", data[startxref:])
    count = int(header.group(1))
    table = data[startxref + header.end() :]
    entries = re.findall(rb"(\d{10}) (\d{5}) ([nf])", table[: 20 * count])
    assert len(entries) == count
    for number, (offset, _, kind) in enumerate(entries):
        if kind == b"n":
            assert data[int(offset) :].startswith(f"{number} 0 obj".encode())
    return count


def test_invoice_pdf_render_valid_structure():
    """The PDF has a header, a consistent cross-reference table, a trailer and one page."""
    invoice = invoice_with_lines(8)
    data = invoice_pdf_render(invoice=invoice)
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")
    assert _xref_check(data) > 5
    assert re.search(rb"trailer\s*<<.*?/Root \d+ 0 R.*?>>", data, re.DOTALL)
    assert len(re.findall(rb"/Type /Page\b(?!s)", data)) == 1
    assert f"(Invoice {invoice.number})".encode() in data  # the /Title metadata


def test_invoice_pdf_render_deterministic():
    """The same invoice renders to the same bytes, also when loaded again; others differ."""
    invoice = invoice_with_lines(4)
    first = invoice_pdf_render(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice_pdf_render(invoice=invoice) == first
    other = invoice_with_lines(4, issue_date=invoice.issue_date)
    assert invoice_pdf_render(invoice=other) != first


def test_invoice_pdf_render_shows_invoice_text():
    """Seller, owner, customer (Polish/Latvian letters), lines, totals and dates are drawn."""
    system_settings_set(company_name="Acme Trading OÜ")
    owner = UserCardFactory(name="Kārlis Łukasiewicz", email="karlis@acme.test")
    invoice = invoice_with_lines(
        2, owner=owner, number="2026-000123", customer_name="Łódzka Hurtownia Sp. z o.o."
    )
    text = pdf_text(invoice_pdf_render(invoice=invoice, compress=False))
    for expected in (
        "Acme Trading OÜ",
        "Kārlis Łukasiewicz",
        "karlis@acme.test",
        "Number: 2026-000123",
        "Łódzka Hurtownia Sp. z o.o.",
        "Birch plywood 18 mm, lot 2",
        "Due date: 2026-03-16",
        "45.20",  # 3 x 12.35 + 22 % VAT
    ):
        assert expected in text, expected


def test_invoice_pdf_render_long_description_shortened():
    """A description wider than its column is cut with an ellipsis instead of overflowing."""
    invoice = invoice_with_lines(0)
    InvoiceLineFactory(invoice=invoice, description="Very long description " * 12)
    text = pdf_text(invoice_pdf_render(invoice=invoice, compress=False))
    line = next(row for row in text.splitlines() if row.startswith("Very long"))
    assert line.endswith("…")
    assert len(line) < 80


def test_invoice_pdf_render_size_tens_of_kb_at_most():
    """An eight-line invoice stays small: under 40 KB (the font is subset)."""
    data = invoice_pdf_render(invoice=invoice_with_lines(8))
    assert 2_000 < len(data) < 40_000


def test_invoice_pdf_render_core_font_fallback(monkeypatch):
    """Without a TrueType font the core font is used; letters outside Windows-1252 lose accents."""
    monkeypatch.setattr(invoice_pdf, "FONT_CANDIDATES", ())
    invoice_pdf._fonts.cache_clear()
    try:
        invoice = invoice_with_lines(1, customer_name="Łódzka Hurtownia, Rīga, Põhja")
        invoice.lines.update(unit_price=Decimal("0.125"))
        data = invoice_pdf_render(invoice=invoice, compress=False)
    finally:
        invoice_pdf._fonts.cache_clear()
    text = pdf_text(data)
    assert b"/BaseFont /Helvetica" in data
    assert "Lódzka Hurtownia, Riga, Põhja" in text
    assert "0.125" in text
