"""Stored documents: an invoice's PDF is rendered once per content and reused by every send."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoices.documents import invoice_document_get, invoice_email_build, invoice_pdf_filename
from invoices.mailing import InvoiceDocuments, invoice_documents_store
from invoices.models import Invoice, StoredDocument
from invoices.pdf import invoice_pdf_key, invoice_pdf_render
from invoices.services import invoice_totals_recompute
from mailer.config import CardSettings, sender_config_resolve
from mailer.messages import (
    Attachment,
    EncodedAttachment,
    attachment_base64,
    attachment_part,
    message_build,
    message_envelope,
)
from mailer.platform import Platform
from tests.factories import (
    UserCardFactory,
    attachment_add,
    invoice_with_lines,
    system_settings_set,
)
from tests.invoices import pdf_text

pytestmark = pytest.mark.django_db

PLATFORM = Platform(
    relay_host="relay.platform.test", relay_port=25, relay_ssl_tls="no", company_slug="acme"
)
MESSAGE_ID = "<stored-1@acme.test>"
# Boundaries are random and the Date header is the clock's: neither is the message's content.
_VARYING = re.compile(rb"=+\d+==|Date: [^\r\n]+")


def _config(card):
    user = CardSettings(
        code=card.code, email=card.email, mail_sender="smtp", mail_server="smtp.acme.test:465"
    )
    return sender_config_resolve(user=user, global_card=None, platform=PLATFORM)


def _card(**values):
    system_settings_set(company_name="Acme Trading")
    return UserCardFactory(
        name="Kadri Kivi", email="kadri@acme.test", mail_as_attachment="pdf", **values
    )


def _raw(invoice, card):
    config = _config(card)
    return message_envelope(
        invoice_email_build(invoice=invoice, config=config, message_id=MESSAGE_ID), config
    )[2]


def _pdf_part(raw: bytes):
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    [part] = list(parsed.iter_attachments())
    return part


def test_invoice_email_build_second_send_renders_no_pdf(renders):
    """The second send of an unchanged invoice renders nothing and carries the same PDF part."""
    card = _card()
    invoice = invoice_with_lines(3, owner=card, number="2026-0100")
    first = _raw(invoice, card)
    assert renders == ["2026-0100"]
    again = Invoice.objects.get(pk=invoice.pk)
    second = _raw(again, card)
    assert renders == ["2026-0100"]
    assert _pdf_part(second).as_bytes() == _pdf_part(first).as_bytes()
    assert _VARYING.sub(b"", second) == _VARYING.sub(b"", first)
    assert StoredDocument.objects.count() == 1


def test_invoice_email_build_same_bytes_as_attaching_the_rendered_pdf():
    """The message from the stored part is byte for byte the one attach(pdf bytes) makes."""
    card = _card()
    invoice = invoice_with_lines(2, owner=card, number="2026-0101", notes="Thank you.")
    config = _config(card)
    legacy = message_build(
        config=config,
        to=[invoice.customer_email],
        subject="Invoice 2026-0101 from Acme Trading",
        body="x",
        attachments=[
            Attachment(
                invoice_pdf_filename(invoice),
                invoice_pdf_render(invoice=invoice),
                "application/pdf",
            )
        ],
        message_id=MESSAGE_ID,
    )
    document = invoice_document_get(invoice=invoice)
    stored = message_build(
        config=config,
        to=[invoice.customer_email],
        subject="Invoice 2026-0101 from Acme Trading",
        body="x",
        attachments=[
            EncodedAttachment(invoice_pdf_filename(invoice), document.pdf_base64, "application/pdf")
        ],
        message_id=MESSAGE_ID,
    )
    legacy_raw = message_envelope(legacy, config)[2]
    stored_raw = message_envelope(stored, config)[2]
    assert _VARYING.sub(b"", stored_raw) == _VARYING.sub(b"", legacy_raw)


@pytest.mark.parametrize("filename", ["invoice-2026-0102.pdf", "rēķins nr 5 — ž.pdf"])
def test_attachment_part_same_bytes_as_django_attach(filename):
    """A pre-encoded part serialises as Django's attach(filename, bytes, mimetype) does."""
    data = bytes(range(256)) * 97 + b"tail"
    part = attachment_part(EncodedAttachment(filename, attachment_base64(data), "application/pdf"))
    assert part.get_content() == data
    # It still reads as Django's EmailAttachment for code that inspects message.attachments.
    assert (part.filename, part.content, part.mimetype) == (filename, data, "application/pdf")
    card = _card()
    config = _config(card)

    def raw(attachment):
        message = message_build(
            config=config,
            to=["a@example.test"],
            subject="s",
            body="b",
            attachments=[attachment],
            message_id=MESSAGE_ID,
        )
        return _VARYING.sub(b"", message_envelope(message, config)[2])

    encoded = EncodedAttachment(filename, attachment_base64(data), "application/pdf")
    assert raw(encoded) == raw(Attachment(filename, data, "application/pdf"))


def test_stored_document_changed_line_makes_new_document(renders):
    """A changed line changes the key: the next send renders and stores a new document."""
    card = _card()
    invoice = invoice_with_lines(2, owner=card, number="2026-0103")
    before = invoice_document_get(invoice=invoice)
    line = invoice.lines.first()
    line.unit_price = Decimal("99.90")
    line.save()
    changed = invoice_totals_recompute(invoice=Invoice.objects.get(pk=invoice.pk))
    after = invoice_document_get(invoice=changed)
    assert after.key != before.key
    assert renders == ["2026-0103", "2026-0103"]
    assert StoredDocument.objects.count() == 2
    assert "99.90" in pdf_text(invoice_pdf_render(invoice=changed, compress=False))
    assert _pdf_part(_raw(changed, card)).get_content() == bytes(after.pdf)
    assert bytes(after.pdf) != bytes(StoredDocument.objects.get(key=before.key).pdf)


def test_stored_document_same_content_other_number_is_other_document():
    """Two invoices alike but for their numbers are two documents, each showing its number."""
    card = _card()
    first = invoice_with_lines(2, owner=card, number="2026-0104", customer_email="a@ex.test")
    second = invoice_with_lines(2, owner=card, number="2026-0105", customer_email="a@ex.test")
    assert invoice_pdf_key(invoice=first) != invoice_pdf_key(invoice=second)
    one, other = invoice_document_get(invoice=first), invoice_document_get(invoice=second)
    assert one.key != other.key
    assert b"(Invoice 2026-0104)" in bytes(one.pdf)
    assert b"(Invoice 2026-0105)" in bytes(other.pdf)


def test_stored_document_part_decodes_to_same_pdf():
    """The stored base64 lines decode to the stored PDF, which is the renderer's output."""
    card = _card()
    invoice = invoice_with_lines(4, owner=card, number="2026-0106")
    document = StoredDocument.objects.get(key=invoice_document_get(invoice=invoice).key)
    assert base64.b64decode(document.pdf_base64) == bytes(document.pdf)
    assert bytes(document.pdf) == invoice_pdf_render(invoice=invoice)
    assert all(len(line) <= 76 for line in document.pdf_base64.splitlines())


def test_invoice_pdf_key_changes_with_language_seller_and_owner():
    """What the PDF shows beyond the invoice's own fields is in the key too."""
    card = _card()
    invoice = invoice_with_lines(1, owner=card, number="2026-0107")
    key = invoice_pdf_key(invoice=invoice)
    assert invoice_pdf_key(invoice=invoice, company="Other Seller") != key
    invoice.language = "et"
    assert invoice_pdf_key(invoice=invoice) != key
    invoice.language = "en"
    card.email = "other@acme.test"
    assert invoice_pdf_key(invoice=invoice) != key
    card.email = "kadri@acme.test"
    assert invoice_pdf_key(invoice=invoice) == key


def test_invoice_documents_load_looks_documents_up_once_per_batch(renders):
    """A batch finds its invoices' documents in one query; building its messages costs none."""
    card = _card()
    invoices = [invoice_with_lines(2, owner=card, number=f"2026-02{n:02d}") for n in range(6)]
    ids = [invoice.pk for invoice in invoices]
    kind = InvoiceDocuments()
    kind.load(card=card, ids=ids[:3])  # stores three: the batch below renders the others only
    assert len(renders) == 3
    with CaptureQueriesContext(connection) as queries:
        loaded = kind.load(card=card, ids=ids)
    stored = [q["sql"] for q in queries.captured_queries if "invoices_storeddocument" in q["sql"]]
    assert len(stored) == 2  # one SELECT for the batch, one INSERT for the new documents
    assert len(renders) == 6
    config = _config(card)
    with CaptureQueriesContext(connection) as queries:
        for pk in ids:
            message = kind.message_build(
                loaded[pk],
                config=config,
                subject_template=kind.default_subject,
                body_template=kind.default_body,
                message_id=MESSAGE_ID,
            )
            message_envelope(message, config)
    assert queries.captured_queries == []
    assert len(renders) == 6
    assert StoredDocument.objects.count() == 6


def test_invoice_documents_store_renders_once_before_any_send(renders):
    """Issuing stores each PDF once; the sends after it render nothing."""
    card = _card()
    invoices = [invoice_with_lines(2, owner=card, number=f"2026-02{n}") for n in range(3)]
    assert invoice_documents_store(card=card, invoice_ids=[i.pk for i in invoices]) == 3
    assert sorted(renders) == ["2026-020", "2026-021", "2026-022"]
    assert invoice_documents_store(card=card, invoice_ids=[i.pk for i in invoices]) == 3
    for invoice in invoices:
        _raw(Invoice.objects.get(pk=invoice.pk), card)
    assert len(renders) == 3


def _attachments_add(invoice):
    """A scan, a file of exactly one base64 line, an empty file and a text file."""
    for filename, content_type, data in [
        ("scan.jpg", "image/jpeg", bytes(range(256)) * 203 + b"tail"),
        ("one-line.bin", "application/octet-stream", b"x" * 57),
        ("empty.bin", "application/octet-stream", b""),
        ("note.csv", "text/csv", "position;qty;ž\n1;2\n".encode()),
    ]:
        invoice.attachments.create(filename=filename, content_type=content_type, data=data)


def _batch_raw(kind, loaded, pk, config):
    message = kind.message_build(
        loaded[pk],
        config=config,
        subject_template=kind.default_subject,
        body_template=kind.default_body,
        message_id=MESSAGE_ID,
    )
    return message_envelope(message, config)[2]


def test_invoice_documents_load_attachments_arrive_encoded_not_as_bytes():
    """A batch's attachments come as their base64 lines: no bytes to decode, none to encode."""
    card = _card(attachments_with_email=True)
    invoice = invoice_with_lines(2, owner=card, number="2026-0301")
    _attachments_add(invoice)
    kind = InvoiceDocuments()
    loaded = kind.load(card=card, ids=[invoice.pk])
    attachments = list(loaded[invoice.pk].invoice.attachments.all())
    assert len(attachments) == 4
    assert all("data" in own.get_deferred_fields() for own in attachments)
    with CaptureQueriesContext(connection) as queries:
        _batch_raw(kind, loaded, invoice.pk, _config(card))
    assert queries.captured_queries == []


def test_invoice_documents_load_message_same_bytes_as_invoice_alone():
    """The attachments a batch loads encoded make the message an invoice alone makes."""
    card = _card(attachments_with_email=True)
    invoice = invoice_with_lines(2, owner=card, number="2026-0302")
    _attachments_add(invoice)
    kind = InvoiceDocuments()
    batch = _batch_raw(kind, kind.load(card=card, ids=[invoice.pk]), invoice.pk, _config(card))
    alone = _raw(Invoice.objects.get(pk=invoice.pk), card)
    assert _VARYING.sub(b"", batch) == _VARYING.sub(b"", alone)
    parsed = email.message_from_bytes(batch, policy=email.policy.default)
    parts = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
    assert parts["scan.jpg"] == bytes(range(256)) * 203 + b"tail"
    assert parts["empty.bin"] == b""
    assert parts["note.csv"].splitlines() == ["position;qty;ž", "1;2"]


def test_invoice_documents_load_translates_pdf_labels_once_per_language(monkeypatch):
    """A batch's content keys translate each language's PDF labels once; the keys are the same."""
    import invoices.pdf as invoice_pdf

    card = _card()
    invoices = [
        invoice_with_lines(1, owner=card, number=f"2026-04{n:02d}", language=language)
        for n, language in enumerate(["en", "et", "et", "lv", "en", "lv"])
    ]
    alone = {invoice.pk: invoice_pdf_key(invoice=invoice) for invoice in invoices}
    invoice_documents_store(card=card, invoice_ids=list(alone))  # the batch renders no PDF
    translated: list[str] = []

    def counting(message):
        translated.append(message)
        return invoice_pdf.translation.gettext(message)

    monkeypatch.setattr(invoice_pdf, "gettext", counting)
    loaded = InvoiceDocuments().load(card=card, ids=list(alone))
    assert len(translated) == 3 * len(invoice_pdf._LABELS)
    assert {pk: mailable.document.key for pk, mailable in loaded.items()} == alone


def test_invoice_documents_load_queries_do_not_grow_with_the_batch():
    """A stored batch costs the same few queries for two invoices as for eight."""
    card = _card(attachments_with_email=True)
    invoices = [invoice_with_lines(2, owner=card, number=f"2026-05{n:02d}") for n in range(8)]
    for invoice in invoices:
        attachment_add(invoice)
    ids = [invoice.pk for invoice in invoices]
    invoice_documents_store(card=card, invoice_ids=ids)
    counts = []
    for batch in (ids[:2], ids):
        with CaptureQueriesContext(connection) as queries:
            InvoiceDocuments().load(card=card, ids=batch)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1] <= 5  # invoices, lines, attachments, documents, settings
