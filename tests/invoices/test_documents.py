"""The invoice e-mail: shape per card, addresses per mode, templates and their placeholders."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoices.documents import (
    DEFAULT_SUBJECT_TEMPLATE,
    PLACEHOLDERS,
    InvoiceRecipientError,
    InvoiceTemplateError,
    invoice_email_build,
    invoice_pdf_filename,
    invoice_template_check,
    template_render,
)
from mailer.config import CardSettings, sender_config_resolve
from mailer.messages import message_envelope
from mailer.platform import Platform
from mailer.verp import verp_address_parse
from tests.factories import (
    InvoiceFactory,
    UserCardFactory,
    attachment_add,
    invoice_with_lines,
    system_settings_set,
)

pytestmark = pytest.mark.django_db

PLATFORM = Platform(
    relay_host="relay.platform.test",
    relay_port=25,
    relay_ssl_tls="no",
    company_slug="acme-trading",
)


def _config(card, mode: str = "smtp"):
    user = CardSettings(
        code=card.code, email=card.email, mail_sender=mode, mail_server="smtp.acme.test:465"
    )
    return sender_config_resolve(user=user, global_card=None, platform=PLATFORM)


def _invoice(mail_as_attachment: str = "pdf", attachments_with_email: bool = False, **fields):
    system_settings_set(company_name="Acme Trading")
    owner = UserCardFactory(
        name="Kadri Kivi",
        email="kadri@acme.test",
        mail_as_attachment=mail_as_attachment,
        attachments_with_email=attachments_with_email,
    )
    invoice = invoice_with_lines(3, owner=owner, **fields)
    attachment_add(invoice, "delivery-note.csv")
    return invoice


def _parsed(message, config):
    sender, recipients, raw = message_envelope(message, config)
    return sender, recipients, email.message_from_bytes(raw, policy=email.policy.default)


def test_invoice_email_build_pdf_card_attaches_pdf():
    """Mail as attachment PDF: the invoice is attached as invoice-<number>.pdf, short body."""
    invoice = _invoice("pdf", number="2026-0042")
    config = _config(invoice.owner)
    _, recipients, parsed = _parsed(invoice_email_build(invoice=invoice, config=config), config)
    files = {part.get_filename(): part for part in parsed.iter_attachments()}
    assert list(files) == ["invoice-2026-0042.pdf"]
    pdf = files["invoice-2026-0042.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content().startswith(b"%PDF-")
    assert b"(Invoice 2026-0042)" in pdf.get_content()  # the PDF's /Title
    body = parsed.get_body(("plain",)).get_content()
    assert "Please find attached invoice 2026-0042" in body
    assert "Birch plywood" not in body
    assert parsed.get_body(("html",)) is None
    assert recipients == [invoice.customer_email]
    assert parsed["Subject"] == "Invoice 2026-0042 from Acme Trading"


def test_invoice_email_build_no_card_puts_invoice_in_body():
    """Mail as attachment No: the invoice is a text table in the body plus an HTML alternative."""
    invoice = _invoice("no", customer_name="Tamme & <Poeg> OÜ")
    config = _config(invoice.owner)
    _, _, parsed = _parsed(invoice_email_build(invoice=invoice, config=config), config)
    assert list(parsed.iter_attachments()) == []
    text = parsed.get_body(("plain",)).get_content()
    assert "Below is invoice" in text
    assert "Birch plywood 18 mm, lot 3" in text
    assert "Total EUR" in text
    assert "90.40" in text
    html = parsed.get_body(("html",)).get_content()
    assert "<table" in html
    assert "Tamme &amp; &lt;Poeg&gt; OÜ" in html
    assert "<Poeg>" not in html
    assert "90.40" in html


@pytest.mark.parametrize("shape", ["pdf", "no"])
@pytest.mark.parametrize("with_files", [True, False])
def test_invoice_email_build_own_attachments_only_when_card_says_so(shape, with_files):
    """The invoice's own files go along only with Attachments with email Yes, in either shape."""
    invoice = _invoice(shape, attachments_with_email=with_files)
    config = _config(invoice.owner)
    _, _, parsed = _parsed(invoice_email_build(invoice=invoice, config=config), config)
    names = [part.get_filename() for part in parsed.iter_attachments()]
    assert ("delivery-note.csv" in names) is with_files
    assert (f"invoice-{invoice.number}.pdf" in names) is (shape == "pdf")
    if with_files:
        csv = next(p for p in parsed.iter_attachments() if p.get_filename() == "delivery-note.csv")
        assert csv.get_content_type() == "text/csv"


def test_invoice_email_build_smtp_from_user_without_reply_to():
    """SMTP: From and the envelope sender are the user's address; no Reply-To."""
    invoice = _invoice()
    config = _config(invoice.owner, "smtp")
    sender, _, parsed = _parsed(invoice_email_build(invoice=invoice, config=config), config)
    assert sender == parsed["From"] == "kadri@acme.test"
    assert parsed["Reply-To"] is None


def test_invoice_email_build_directo_reply_to_from_event_mailbox():
    """Directo-Reply-To: From and envelope are the event mailbox, Reply-To the user."""
    invoice = _invoice()
    config = _config(invoice.owner, "directo_reply_to")
    sender, _, parsed = _parsed(invoice_email_build(invoice=invoice, config=config), config)
    assert parsed["From"] == "acme-trading@event.data.directo.ee"
    # The envelope is the event mailbox, signed per message (mailer.verp).
    verp = verp_address_parse(sender)
    assert sender.endswith("@event.data.directo.ee")
    assert verp is not None
    assert verp.names_message(parsed["Message-ID"])
    assert parsed["Reply-To"] == "kadri@acme.test"


def test_invoice_email_build_keeps_given_message_id():
    """A stable Message-ID given by the job is used as is."""
    invoice = _invoice()
    config = _config(invoice.owner)
    message = invoice_email_build(invoice=invoice, config=config, message_id="<inv-1@acme.test>")
    _, _, parsed = _parsed(message, config)
    assert parsed["Message-ID"] == "<inv-1@acme.test>"


def test_invoice_email_build_edited_templates_fill_placeholders():
    """Edited subject and body templates get every placeholder's value; {{ }} stay literal."""
    invoice = _invoice("pdf", number="77", customer_name="SIA Rīgas Tekstils")
    config = _config(invoice.owner)
    message = invoice_email_build(
        invoice=invoice,
        config=config,
        subject_template="{company}: arve {number} / {total} {currency}",
        body_template="Tere {customer}! Tähtaeg {due_date}. {{not a placeholder}} -- {sender}",
    )
    assert message.subject == "Acme Trading: arve 77 / 90.40 EUR"
    assert message.body == (
        "Tere SIA Rīgas Tekstils! Tähtaeg 2026-03-16. {not a placeholder} -- Kadri Kivi"
    )


def test_invoice_email_build_unknown_placeholder_names_it():
    """An unknown placeholder is a ValueError naming it (and listing the known ones)."""
    invoice = _invoice()
    with pytest.raises(ValueError, match=r"unknown placeholder \{amount\}") as raised:
        invoice_email_build(
            invoice=invoice, config=_config(invoice.owner), body_template="Pay {amount} now"
        )
    assert isinstance(raised.value, InvoiceTemplateError)
    assert raised.value.placeholder == "amount"
    assert "{total}" in str(raised.value)


@pytest.mark.parametrize(
    "template",
    [
        "{number.__class__}",
        "{number[0]}",
        "{owner.smtp_password}",
        "{total:>999999999}",
        "{number!r}",
        "{0}",
        "{}",
        "Unbalanced { brace",
        "Unbalanced } brace",
    ],
)
def test_invoice_template_check_refuses_attribute_access_and_formats(template):
    """Attribute access, indexing, format specs, positions and stray braces are refused."""
    with pytest.raises(InvoiceTemplateError):
        invoice_template_check(template)


@given(
    st.lists(
        st.one_of(
            st.sampled_from(sorted(PLACEHOLDERS)).map(lambda name: ("name", name)),
            st.text(alphabet=st.characters(exclude_characters="{}"), max_size=8).map(
                lambda text: ("text", text)
            ),
        ),
        max_size=8,
    )
)
def test_template_render_fills_known_placeholders_only(parts):
    """Any text with known placeholders renders to the text with each value in place."""
    template = "".join(f"{{{value}}}" if kind == "name" else value for kind, value in parts)
    values = {name: f"<{name}>" for name in PLACEHOLDERS}
    expected = "".join(values[value] if kind == "name" else value for kind, value in parts)
    assert template_render(template, values) == expected


def test_invoice_email_build_subject_folds_line_breaks_in_values():
    """A line break inside a customer name does not break the subject header."""
    invoice = _invoice(customer_name="Kivi\r\nBcc: evil@example.test")
    message = invoice_email_build(
        invoice=invoice, config=_config(invoice.owner), subject_template="Invoice for {customer}"
    )
    assert message.subject == "Invoice for Kivi Bcc: evil@example.test"
    assert message.recipients() == [invoice.customer_email]


@pytest.mark.parametrize(
    ("address", "cause"),
    [
        ("", "recipient_missing"),
        ("no-at-sign", "recipient_invalid"),
        ("a@example.test, b@example.test", "recipient_several"),
    ],
)
def test_invoice_email_build_refuses_unusable_customer_address(address, cause):
    """A missing or invalid customer address fails this invoice with a named cause."""
    invoice = _invoice(customer_email=address)
    with pytest.raises(InvoiceRecipientError) as raised:
        invoice_email_build(invoice=invoice, config=_config(invoice.owner))
    assert raised.value.cause == cause
    assert invoice.number in raised.value.user_message


def test_invoice_pdf_filename_keeps_safe_characters_only():
    """Slashes, spaces and quotes in a number become hyphens in the PDF's file name."""
    invoice = InvoiceFactory.build(number='2026/07 "A"')
    assert invoice_pdf_filename(invoice) == "invoice-2026-07-A.pdf"


def test_default_subject_template_is_valid():
    """The default templates pass the same check as edited ones."""
    invoice_template_check(DEFAULT_SUBJECT_TEMPLATE)
    assert set(PLACEHOLDERS) >= {"number", "customer", "total", "due_date", "company"}


def test_invoice_email_build_without_company_names_the_owner():
    """Without a company name in System settings the owner's name stands in for {company}."""
    invoice = _invoice()
    system_settings_set(company_name="")
    message = invoice_email_build(invoice=invoice, config=_config(invoice.owner))
    assert message.subject == f"Invoice {invoice.number} from Kadri Kivi"
