"""Messages assembled from stored parts: the same MIME message as the builder before them."""

from __future__ import annotations

import copy
import email
import email.policy
import random
import re

import pytest

from invoices.documents import invoice_document_get, invoice_email_build
from invoices.models import InvoiceAttachment, StoredDocument
from letters import mailing as letters_mailing
from mailer.config import CardSettings, sender_config_resolve
from mailer.messages import (
    Attachment,
    EncodedAttachment,
    EncodedPart,
    HeaderInjectionError,
    attachment_base64,
    message_build,
    message_envelope,
)
from mailer.platform import Platform
from tests.factories import UserCardFactory, attachment_add, invoice_with_lines, system_settings_set

pytestmark = pytest.mark.django_db

PLATFORM = Platform(
    relay_host="relay.platform.test", relay_port=25, relay_ssl_tls="no", company_slug="acme"
)
MESSAGE_ID = "<bytes-1@acme.test>"
# Django dates each message when it builds it: the clock is not the message's content.
_DATE = re.compile(rb"\r\nDate: [^\r\n]+")
SCAN = random.Random(14).randbytes(5_000)  # a scanned delivery note (binary)


def _config(card, mode: str = "smtp"):
    user = CardSettings(
        code=card.code, email=card.email, mail_sender=mode, mail_server="smtp.acme.test:465"
    )
    return sender_config_resolve(user=user, global_card=None, platform=PLATFORM)


def _seeded(serialise):
    """Serialise with the same MIME boundaries each time (they are random)."""
    random.seed(1414)
    return _DATE.sub(b"", serialise())


def _old_bytes(message) -> bytes:
    """The builder before stored parts: Django encodes each attachment, as_bytes() writes all."""
    legacy = copy.copy(message)
    legacy.attachments = [
        (part.filename, part.content, part.mimetype) if isinstance(part, EncodedPart) else part
        for part in message.attachments
    ]
    return _seeded(lambda: legacy.message(policy=email.policy.SMTP).as_bytes())


def _new_bytes(message, config) -> bytes:
    return _seeded(lambda: message_envelope(message, config)[2])


def _shape(raw: bytes) -> list[tuple[object, ...]]:
    """Each part of a parsed message: its headers (but boundaries), type, filename, content."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    shape = []
    for part in parsed.walk():
        headers = [
            (name, str(value)) for name, value in part.items() if name.lower() != "content-type"
        ]
        content = None if part.is_multipart() else part.get_content()
        shape.append((part.get_content_type(), part.get_filename(), headers, content))
    assert not parsed.defects
    return shape


def _invoice(language: str, *, pdf: bool, attachments: bool):
    system_settings_set(company_name="Acme Trading")
    card = UserCardFactory(
        name="Kadri Kivi",
        email="kadri@acme.test",
        mail_as_attachment="pdf" if pdf else "no",
        attachments_with_email=attachments,
    )
    invoice = invoice_with_lines(
        3, owner=card, number=f"2026-{language}", language=language, customer_name="Žemaitė SIA"
    )
    attachment_add(invoice)  # text/csv: Django writes it as text, as before
    InvoiceAttachment.objects.create(
        invoice=invoice, filename="saateleht-ž.jpg", content_type="image/jpeg", data=SCAN
    )
    return card, invoice


@pytest.mark.parametrize("language", ["en", "et", "lv", "pl"])
@pytest.mark.parametrize("pdf", [True, False], ids=["pdf", "body"])
@pytest.mark.parametrize("attachments", [True, False], ids=["files", "no-files"])
def test_message_envelope_same_message_as_old_builder(language, pdf, attachments):
    """Stored parts copied verbatim give the old builder's bytes, parsed alike, in each case."""
    card, invoice = _invoice(language, pdf=pdf, attachments=attachments)
    config = _config(card)
    message = invoice_email_build(invoice=invoice, config=config, message_id=MESSAGE_ID)
    new, old = _new_bytes(message, config), _old_bytes(message)
    assert new == old
    shape = _shape(new)
    assert shape == _shape(old)
    filenames = [filename for _, filename, _, _ in shape if filename]
    expected = [f"invoice-2026-{language}.pdf"] if pdf else []
    expected += ["delivery-note.csv", "saateleht-ž.jpg"] if attachments else []
    assert filenames == expected
    parsed = email.message_from_bytes(new, policy=email.policy.default)
    assert parsed["Message-ID"] == MESSAGE_ID
    if attachments:
        [scan] = [p for p in parsed.iter_attachments() if p.get_filename() == "saateleht-ž.jpg"]
        assert scan.get_content() == SCAN


def test_message_envelope_copies_stored_pdf_lines_verbatim():
    """The stored PDF's CRLF base64 lines appear in the message bytes as they are stored."""
    card, invoice = _invoice("et", pdf=True, attachments=False)
    document = invoice_document_get(invoice=invoice)
    assert document.pdf_base64.count("\r\n") == document.pdf_base64.count("\n") > 1
    assert all(len(line) <= 76 for line in document.pdf_base64.split("\r\n"))
    config = _config(card)
    raw = message_envelope(invoice_email_build(invoice=invoice, config=config), config)[2]
    assert document.pdf_base64.encode("ascii") in raw
    [part] = email.message_from_bytes(raw, policy=email.policy.default).iter_attachments()
    assert part.get_content() == bytes(StoredDocument.objects.get(key=document.key).pdf)


def test_message_envelope_document_stored_with_lf_lines_same_bytes():
    """A document stored before (LF-ended lines) still gives the same message."""
    card, invoice = _invoice("lv", pdf=True, attachments=True)
    document = invoice_document_get(invoice=invoice)
    StoredDocument.objects.filter(key=document.key).update(
        pdf_base64=document.pdf_base64.replace("\r\n", "\n")
    )
    config = _config(card)
    fresh = StoredDocument.objects.get(key=document.key)
    message = invoice_email_build(
        invoice=invoice, config=config, message_id=MESSAGE_ID, document=fresh
    )
    assert _new_bytes(message, config) == _old_bytes(message)


@pytest.mark.parametrize("language", ["en", "et", "lv", "pl"])
@pytest.mark.parametrize("mode", ["smtp", "directo_reply_to"])
def test_letter_message_same_message_as_old_builder(language, mode):
    """A customer letter (no attachment) is the old builder's message, VERP sender unchanged."""
    card = UserCardFactory(name="Kadri Kivi", email="kadri@acme.test")
    customer = letters_mailing.Customer(
        owner=card, name="Łukasz Żółć", email="lukasz@example.test", language=language
    )
    config = _config(card, mode)
    message = letters_mailing.letter_email_build(
        customer=customer,
        config=config,
        subject_template="Tere {customer}, ünits ģērbs",
        body_template="Hello {customer},\n\n.a line that starts with a dot\nFrom {company}",
        message_id=MESSAGE_ID,
        company="Acme Trading",
    )
    assert _new_bytes(message, config) == _old_bytes(message)
    sender, recipients, raw = message_envelope(message, config)
    assert recipients == ["lukasz@example.test"]
    assert (sender != config.envelope_from) == (mode == "directo_reply_to")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Tere Łukasz Żółć, ünits ģērbs"
    assert parsed["Content-Language"] == language


@pytest.mark.parametrize("encoded", [True, False], ids=["stored", "attach"])
def test_message_build_attachment_filename_with_line_break_refused(encoded):
    """A filename with CR LF is refused for a stored part exactly as Django's attach() does."""
    card = UserCardFactory(email="kadri@acme.test")
    filename = "x.pdf\r\nBcc: victim@example.test"
    attachment = (
        EncodedAttachment(filename, attachment_base64(b"%PDF"), "application/pdf")
        if encoded
        else Attachment(filename, b"%PDF", "application/pdf")
    )
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        message_envelope(
            message_build(
                config=_config(card),
                to=["a@example.test"],
                subject="s",
                body="b",
                attachments=[attachment],
            ),
            _config(card),
        )


def test_message_envelope_header_injection_still_refused():
    """A subject with a line break is refused before any byte is assembled."""
    card = UserCardFactory(email="kadri@acme.test")
    config = _config(card)
    message = message_build(
        config=config, to=["a@example.test"], subject="ok", body="b", message_id=MESSAGE_ID
    )
    message.subject = "Invoice\r\nBcc: victim@example.test"
    with pytest.raises(HeaderInjectionError):
        message_envelope(message, config)


def test_encoded_part_changed_payload_is_written_by_the_email_package():
    """A part whose payload someone replaced is written from that payload, not the stored one."""
    card = UserCardFactory(email="kadri@acme.test")
    config = _config(card)
    message = message_build(
        config=config,
        to=["a@example.test"],
        subject="s",
        body="b",
        attachments=[
            EncodedAttachment("a.bin", attachment_base64(b"old"), "application/octet-stream")
        ],
        message_id=MESSAGE_ID,
    )
    [part] = message.attachments
    part.set_payload(attachment_base64(b"new"))
    raw = message_envelope(message, config)[2]
    [parsed] = email.message_from_bytes(raw, policy=email.policy.default).iter_attachments()
    assert parsed.get_content() == b"new"


def test_message_envelope_repeated_headers_shared_each_message_its_own():
    """Headers parsed once and shared (From, types) leave each message its own To and Subject."""
    card = UserCardFactory(name="Kadri Kõiv", email="kadri@acme.test")
    config = _config(card)
    raws = [
        message_envelope(
            message_build(
                config=config,
                to=[f"c{n}@example.test"],
                subject=f"Arve {n}: žūrija",
                body=f"Tere {n}",
                html=f"<p>Tere {n}</p>",
                message_id=f"<m{n}@acme.test>",
            ),
            config,
        )[2]
        for n in range(3)
    ]
    for n, raw in enumerate(raws):
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert (parsed["To"], parsed["Subject"], parsed["Message-ID"]) == (
            f"c{n}@example.test",
            f"Arve {n}: žūrija",
            f"<m{n}@acme.test>",
        )
        assert parsed["From"] == config.from_email
        assert parsed.get_body(("plain",)).get_content().rstrip() == f"Tere {n}"
        assert parsed.get_body(("html",)).get_content().rstrip() == f"<p>Tere {n}</p>"
