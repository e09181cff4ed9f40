"""Purging stored documents: only what no invoice's current content names goes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from invoices.documents import stored_documents_purge
from invoices.mailing import InvoiceDocuments, invoice_documents_store, invoices_mass_mail_start
from invoices.models import Invoice, StoredDocument
from invoices.pdf import invoice_pdf_key
from invoices.services import invoice_totals_recompute
from invoices.tasks import PURGE_TASK
from invoices.tasks import stored_documents_purge as stored_documents_purge_task
from massmail.models import JobStatus
from tests.factories import SmtpCardFactory, invoice_with_lines, system_settings_set

pytestmark = pytest.mark.django_db


def _card():
    system_settings_set(company_name="Acme Trading")
    return SmtpCardFactory(email="kadri@acme.test", mail_as_attachment="pdf")


def _stored_keys() -> set[str]:
    return set(StoredDocument.objects.values_list("key", flat=True))


def _key(invoice: Invoice) -> str:
    return invoice_pdf_key(invoice=Invoice.objects.select_related("owner").get(pk=invoice.pk))


def test_stored_documents_purge_removes_edited_and_deleted_invoices_documents():
    """An edited invoice's old PDF and a deleted invoice's go; what a job still sends stays."""
    card = _card()
    kept, edited, deleted = (
        invoice_with_lines(2, owner=card, number=f"2026-07{n}") for n in range(3)
    )
    invoice_documents_store(card=card, invoice_ids=[kept.pk, edited.pk, deleted.pk])
    old_key = _key(edited)
    line = edited.lines.first()
    line.unit_price = Decimal("99.90")
    line.save()
    invoice_totals_recompute(invoice=Invoice.objects.get(pk=edited.pk))
    invoice_documents_store(card=card, invoice_ids=[edited.pk])
    deleted_key = _key(deleted)
    deleted.delete()
    job = invoices_mass_mail_start(card=card, invoice_ids=[kept.pk, edited.pk])
    assert job.status == JobStatus.QUEUED
    assert _stored_keys() == {_key(kept), old_key, _key(edited), deleted_key}
    assert stored_documents_purge() == 2
    assert _stored_keys() == {_key(kept), _key(edited)}
    assert stored_documents_purge() == 0


def test_stored_documents_purge_after_renderer_version_change_keeps_new_documents(
    monkeypatch, renders
):
    """A renderer change leaves the old PDFs to the purge; an active job's new ones stay."""
    card = _card()
    invoice = invoice_with_lines(2, owner=card, number="2026-0800")
    invoice_documents_store(card=card, invoice_ids=[invoice.pk])
    old_key = _key(invoice)
    monkeypatch.setattr("invoices.pdf.RENDERER_VERSION", "next")
    invoices_mass_mail_start(card=card, invoice_ids=[invoice.pk])
    invoice_documents_store(card=card, invoice_ids=[invoice.pk])  # issued again, or a send
    assert _key(invoice) != old_key
    assert len(renders) == 2
    assert stored_documents_purge() == 1
    assert _stored_keys() == {_key(invoice)}
    loaded = InvoiceDocuments().load(card=card, ids=[invoice.pk])
    assert loaded[invoice.pk].document.key == _key(invoice)
    assert len(renders) == 2  # the job's send finds its document: nothing is rendered again


def test_stored_documents_purge_keeps_documents_stored_after_it_began():
    """A document stored while the purge runs (a worker's, of an edit) is not deleted."""
    card = _card()
    invoice = invoice_with_lines(1, owner=card, number="2026-0900")
    invoice_documents_store(card=card, invoice_ids=[invoice.pk])
    StoredDocument.objects.create(key="0" * 64, pdf=b"%PDF", pdf_base64="JVBERg==\r\n")
    StoredDocument.objects.filter(key="0" * 64).update(
        created_at=timezone.now() + timedelta(minutes=1)
    )
    StoredDocument.objects.create(key="1" * 64, pdf=b"%PDF", pdf_base64="JVBERg==\r\n")
    assert stored_documents_purge() == 1
    assert _stored_keys() == {_key(invoice), "0" * 64}


def test_purge_stored_documents_command_says_how_many():
    """`purge_stored_documents` deletes the unneeded documents and says how many."""
    card = _card()
    invoice = invoice_with_lines(1, owner=card, number="2026-0901")
    invoice_documents_store(card=card, invoice_ids=[invoice.pk])
    StoredDocument.objects.create(key="2" * 64, pdf=b"%PDF", pdf_base64="JVBERg==\r\n")
    out = StringIO()
    call_command("purge_stored_documents", stdout=out)
    assert out.getvalue().strip() == "Deleted 1 stored document(s) that no invoice needs."
    assert _stored_keys() == {_key(invoice)}


def test_stored_documents_purge_task_runs_on_the_beat_schedule(settings):
    """Celery beat runs the purge task daily; the task purges."""
    from directo_mail.celery import app

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == PURGE_TASK]
    assert len(entries) == 1
    assert 0 < entries[0]["schedule"] <= 24 * 3600
    app.loader.import_default_modules()
    assert PURGE_TASK in app.tasks
    _card()
    StoredDocument.objects.create(key="3" * 64, pdf=b"%PDF", pdf_base64="JVBERg==\r\n")
    assert stored_documents_purge_task.apply().get() == 1
    assert not StoredDocument.objects.exists()
