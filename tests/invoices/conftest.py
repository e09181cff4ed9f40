"""Fixtures of the invoice tests."""

from __future__ import annotations

import pytest

import invoices.documents as invoice_documents
from invoices.pdf import invoice_pdf_render


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the PDF renders that building messages does (the invoice numbers, in order)."""
    calls: list[str] = []

    def spy(*, invoice, **kwargs):
        calls.append(invoice.number)
        return invoice_pdf_render(invoice=invoice, **kwargs)

    monkeypatch.setattr(invoice_documents, "invoice_pdf_render", spy)
    return calls
