"""Invoice test helpers: factories and a small reader of the PDFs fpdf2 writes."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import factory

from invoices.models import Invoice, InvoiceAttachment, InvoiceLine
from invoices.services import invoice_totals_recompute
from tests.factories import UserCardFactory


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    number = factory.Sequence(lambda n: f"T-{n:05d}")
    owner = factory.SubFactory(UserCardFactory)
    customer_name = "Põhja Puit OÜ"
    customer_email = factory.Sequence(lambda n: f"customer{n}@example.test")
    issue_date = date(2026, 3, 2)
    due_date = factory.LazyAttribute(lambda invoice: invoice.issue_date + timedelta(days=14))


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    position = factory.Sequence(lambda n: n)
    description = "Consulting services (h)"
    quantity = Decimal("2.5")
    unit_price = Decimal("80.00")


def invoice_with_lines(lines: int = 3, **fields: object) -> Invoice:
    """Create an invoice with `lines` lines and stored totals."""
    invoice = InvoiceFactory(**fields)
    for index in range(lines):
        InvoiceLineFactory(
            invoice=invoice,
            position=index + 1,
            description=f"Birch plywood 18 mm, lot {index + 1}",
            quantity=Decimal(index + 1),
            unit_price=Decimal("12.35"),
        )
    return invoice_totals_recompute(invoice=invoice)


def attachment_add(invoice: Invoice, filename: str = "delivery-note.csv") -> InvoiceAttachment:
    return InvoiceAttachment.objects.create(
        invoice=invoice, filename=filename, content_type="text/csv", data=b"position;qty\n1;2\n"
    )


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(data: bytes, start: int) -> tuple[bytes, int]:
    """Return the PDF literal string opening at data[start] == '(' and the index after it."""
    out, depth, i = bytearray(), 1, start + 1
    while depth:
        char = data[i : i + 1]
        if char == b"\\":
            nxt = data[i + 1 : i + 2]
            if nxt in _ESCAPES:
                out += _ESCAPES[nxt]
                i += 2
            elif nxt.isdigit():
                digits = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4])
                assert digits is not None
                out.append(int(digits.group(), 8))
                i += 1 + len(digits.group())
            else:
                out += nxt
                i += 2
            continue
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
            if not depth:
                break
        out += char
        i += 1
    return bytes(out), i + 1


def pdf_text(data: bytes) -> str:
    """Return the text drawn by an uncompressed fpdf2 PDF, one line per text object."""
    cmap = {
        int(cid, 16): chr(int(code, 16))
        for cid, code in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]{4})>", data)
    }
    lines = []
    for block in re.finditer(rb"BT .*? ET", data, re.DOTALL):
        text = block.group()
        start = text.find(b"(")
        if start < 0:
            continue
        raw, _ = _literal(text, start)
        if cmap:
            lines.append(
                "".join(
                    cmap.get(int.from_bytes(raw[i : i + 2], "big"), "?")
                    for i in range(0, len(raw), 2)
                )
            )
        else:
            lines.append(raw.decode("cp1252"))
    return "\n".join(lines)
