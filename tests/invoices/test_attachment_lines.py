"""Invoice files keep their base64 lines: a batch copies them instead of encoding the data."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import invoices.services as invoice_services
from invoices.mailing import InvoiceDocuments
from invoices.models import Invoice, InvoiceAttachment
from invoices.services import invoice_demo_create
from mailer.config import CardSettings, sender_config_resolve
from mailer.messages import attachment_base64, message_envelope
from mailer.platform import Platform
from tests.factories import UserCardFactory, invoice_with_lines, system_settings_set

pytestmark = pytest.mark.django_db

PLATFORM = Platform(
    relay_host="relay.platform.test", relay_port=25, relay_ssl_tls="no", company_slug="acme"
)
MESSAGE_ID = "<lines-1@acme.test>"
# Boundaries are random and the Date header is the clock's: neither is the message's content.
_VARYING = re.compile(rb"=+\d+==|Date: [^\r\n]+")
_SCAN = bytes(range(256)) * 203 + b"tail"
_FILES = [
    ("scan.jpg", "image/jpeg", _SCAN),
    ("one-line.bin", "application/octet-stream", b"x" * 57),
    ("empty.bin", "application/octet-stream", b""),
    ("note.csv", "text/csv", "position;qty;ž\n1;2\n".encode()),
]


def _card():
    system_settings_set(company_name="Acme Trading")
    return UserCardFactory(
        name="Kadri Kivi",
        email="kadri@acme.test",
        mail_as_attachment="no",
        attachments_with_email=True,
    )


def _config(card):
    user = CardSettings(
        code=card.code, email=card.email, mail_sender="smtp", mail_server="smtp.acme.test:465"
    )
    return sender_config_resolve(user=user, global_card=None, platform=PLATFORM)


def _invoice(card, number):
    invoice = invoice_with_lines(2, owner=card, number=number)
    for filename, content_type, data in _FILES:
        invoice.attachments.create(filename=filename, content_type=content_type, data=data)
    return invoice


def _batch_raw(card, invoice):
    kind = InvoiceDocuments()
    loaded = kind.load(card=card, ids=[invoice.pk])
    config = _config(card)
    message = kind.message_build(
        loaded[invoice.pk],
        config=config,
        subject_template=kind.default_subject,
        body_template=kind.default_body,
        message_id=MESSAGE_ID,
    )
    return message_envelope(message, config)[2]


def _parts(raw):
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}


def test_invoice_attachment_save_stores_message_lines():
    """Saving a file stores its CRLF-ended 76-character base64 lines and their data's size."""
    card = _card()
    invoice = _invoice(card, "2026-0601")
    scan = invoice.attachments.get(filename="scan.jpg")
    assert scan.encoded_lines == attachment_base64(_SCAN, linesep="\r\n")
    assert scan.encoded_size == len(_SCAN)
    scan.data = b"new scan"
    scan.save(update_fields=["data"])
    scan.refresh_from_db()
    assert scan.encoded_lines == attachment_base64(b"new scan", linesep="\r\n")
    assert scan.encoded_size == len(b"new scan")


def test_invoice_documents_load_stored_lines_same_bytes_as_fallback():
    """The message is byte for byte the same from the stored lines and from PostgreSQL's."""
    card = _card()
    invoice = _invoice(card, "2026-0602")
    stored = _batch_raw(card, invoice)
    InvoiceAttachment.objects.update(encoded_lines="", encoded_size=None)
    fallback = _batch_raw(card, invoice)
    assert _VARYING.sub(b"", stored) == _VARYING.sub(b"", fallback)
    parts = _parts(stored)
    assert parts["scan.jpg"] == _SCAN
    assert parts["empty.bin"] == b""
    assert parts["note.csv"].splitlines() == ["position;qty;ž", "1;2"]


@pytest.mark.parametrize("new", [b"changed, longer content", b"X" * len(_SCAN)])
def test_invoice_documents_load_file_updated_in_bulk_mailed_new(new):
    """A file changed by QuerySet.update (no save(), even at the same size) goes out new."""
    card = _card()
    invoice = _invoice(card, "2026-0603")
    InvoiceAttachment.objects.filter(filename="scan.jpg").update(data=new)
    assert _parts(_batch_raw(card, invoice))["scan.jpg"] == new


def test_invoice_documents_load_file_bulk_updated_mailed_new():
    """A file changed by bulk_update of its data alone goes out with its new content."""
    card = _card()
    invoice = _invoice(card, "2026-0604")
    scan = invoice.attachments.get(filename="scan.jpg")
    scan.data = b"Y" * len(_SCAN)
    InvoiceAttachment.objects.bulk_update([scan], ["data"])
    assert _parts(_batch_raw(card, invoice))["scan.jpg"] == b"Y" * len(_SCAN)


def test_invoice_documents_load_stored_lines_do_not_encode_data():
    """With current lines stored, the batch loads them: the data is neither sent nor encoded."""
    card = _card()
    invoice = _invoice(card, "2026-0605")
    with CaptureQueriesContext(connection) as queries:
        loaded = InvoiceDocuments().load(card=card, ids=[invoice.pk])
    [sql] = [q["sql"] for q in queries.captured_queries if "invoiceattachment" in q["sql"]]
    columns = sql.split(" FROM ")[0].split(", ")
    assert '"invoices_invoiceattachment"."data"' not in columns
    assert '"invoices_invoiceattachment"."encoded_lines"' not in columns
    stored = dict(InvoiceAttachment.objects.values_list("filename", "encoded_lines"))
    for own in loaded[invoice.pk].invoice.attachments.all():
        assert "data" in own.get_deferred_fields()
        # The stored CRLF lines; PostgreSQL's encode() would have sent LF-ended ones.
        assert own.data_base64 == stored[own.filename]
        assert own.data_base64 == "" or own.data_base64.endswith("\r\n")


def test_invoice_demo_create_fills_attachment_lines(monkeypatch):
    """Demo invoices, created in bulk, carry their files' lines (bulk_create skips save())."""
    monkeypatch.setattr(invoice_services, "DEMO_ATTACHMENT_SHARE", 1.0)
    card = _card()
    invoice_demo_create(owner_card=card, count=3, seed=7)
    files = InvoiceAttachment.objects.filter(invoice__owner=card)
    assert files.exists()
    for own in files:
        assert own.encoded_lines == attachment_base64(bytes(own.data), linesep="\r\n")
        assert own.encoded_size == len(own.data)
    assert Invoice.objects.filter(owner=card).count() == 3
