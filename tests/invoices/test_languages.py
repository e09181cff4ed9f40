"""Invoice e-mails and PDFs in the customer's language (SPEC "Languages"): et, lv, pl, en."""

from __future__ import annotations

import email
import email.policy
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import translation

from invoices import pdf as invoice_pdf
from invoices.documents import (
    DEFAULT_BODY_TEMPLATE,
    DEFAULT_SUBJECT_TEMPLATE,
    invoice_email_build,
)
from invoices.mailing import InvoiceDocuments
from invoices.models import Invoice, InvoiceLine
from invoices.pdf import invoice_pdf_render, money_format
from invoices.services import invoice_demo_create, invoice_totals_recompute
from mailer.config import CardSettings, sender_config_resolve
from mailer.messages import message_envelope
from mailer.platform import Platform
from tests.conftest import service_missing
from tests.factories import UserCardFactory, system_settings_set
from tests.invoices import pdf_text

pytestmark = pytest.mark.django_db

PLATFORM = Platform(
    relay_host="relay.platform.test",
    relay_port=25,
    relay_ssl_tls="no",
    company_slug="acme-trading",
)
#: 1 012.30 net + 22 % VAT (222.71) = 1 235.01, issued 31.12.2026, due 14.01.2027.
TOTAL = "1\u00a0235,01"
CUSTOMERS = {
    "en": "Harbour Supplies Ltd",
    "et": "Põhja Šokolaad & Žürii Õunaäär Üle OÜ",
    "lv": "SIA Āboliņš Čiekurs Ērglis Ģimene Ķīļi Ļaudis Ņūū",
    "pl": "Łódzka Ąkacja Ćma Ęta Ńa Ósemka Śląsk Źródło Żuraw Sp. z o.o.",
}
#: Per language: the subject, the letter's sentence and words the PDF draws.
EXPECTED = {
    "et": (
        "Arve 2026-0042 \u2013 Acme Trading",
        f"Manuses on arve 2026-0042 kuupäevaga 31.12.2026 summas {TOTAL} EUR, "
        "maksetähtaeg 14.01.2027.",
        ["ARVE", "Käibemaks", "Kokku EUR", "Maksetähtaeg: 14.01.2027", "MAKSJA", "Ühiku hind"],
    ),
    "lv": (
        "Rēķins Nr. 2026-0042 no Acme Trading",
        f"Pielikumā ir rēķins Nr. 2026-0042 no 31.12.2026 par summu {TOTAL} EUR, "
        "apmaksas termiņš 14.01.2027.",
        ["RĒĶINS", "PVN", "Kopā EUR", "Apmaksas termiņš: 14.01.2027", "MAKSĀTĀJS"],
    ),
    "pl": (
        "Faktura 2026-0042 od Acme Trading",
        f"W załączniku przesyłamy fakturę nr 2026-0042 z dnia 31.12.2026 na kwotę {TOTAL} EUR, "
        "z terminem płatności 14.01.2027.",
        ["FAKTURA", "Razem EUR", "Razem netto", "Termin płatności: 14.01.2027", "NABYWCA"],
    ),
}


def _config(card):
    user = CardSettings(
        code=card.code, email=card.email, mail_sender="smtp", mail_server="smtp.acme.test:465"
    )
    return sender_config_resolve(user=user, global_card=None, platform=PLATFORM)


def _invoice(language: str, *, mail_as_attachment: str = "pdf") -> Invoice:
    system_settings_set(company_name="Acme Trading")
    owner = UserCardFactory(
        name="Kadri Kivi",
        email=f"kadri.{language}@acme.test",
        mail_as_attachment=mail_as_attachment,
    )
    invoice = Invoice.objects.create(
        number="2026-0042",
        owner=owner,
        customer_name=CUSTOMERS[language],
        customer_email="arved@customer.example.test",
        language=language,
        issue_date=date(2026, 12, 31),
        due_date=date(2027, 1, 14),
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        position=1,
        description="Birch plywood 18 mm",
        quantity=Decimal("2.5"),
        unit_price=Decimal("404.92"),
    )
    return invoice_totals_recompute(invoice=invoice)


def _parsed(message, config):
    _, _, raw = message_envelope(message, config)
    return email.message_from_bytes(raw, policy=email.policy.default)


def _unicode_font() -> None:
    invoice_pdf._fonts.cache_clear()
    if invoice_pdf._fonts().regular is None:
        service_missing(
            "no Unicode font for invoice PDFs (apt-get install fonts-dejavu-core; bin/test does)"
        )


@pytest.mark.parametrize("language", ["et", "lv", "pl"])
def test_invoice_email_build_writes_customer_language(language):
    """Subject, intro, decimal-comma amount and 31.12.2026 dates follow the invoice's language."""
    invoice = _invoice(language)
    assert invoice.total == Decimal("1235.01")
    config = _config(invoice.owner)
    # The sender's own interface language does not matter: the customer's does.
    with translation.override("en"):
        parsed = _parsed(invoice_email_build(invoice=invoice, config=config), config)
    subject, sentence, _ = EXPECTED[language]
    assert parsed["Subject"] == subject
    body = parsed.get_body(("plain",)).get_content()
    assert sentence in body
    assert CUSTOMERS[language] in body
    assert "Please find attached" not in body and "2026-12-31" not in body


@pytest.mark.parametrize("language", ["et", "lv", "pl"])
def test_invoice_pdf_render_writes_customer_language_and_keeps_diacritics(language):
    """The PDF's own words, the customer's name and the amounts read back in the language."""
    _unicode_font()
    invoice = _invoice(language)
    text = pdf_text(invoice_pdf_render(invoice=invoice, compress=False))
    lines = text.splitlines()
    assert CUSTOMERS[language] in lines
    for word in EXPECTED[language][2]:
        assert word in lines, (word, lines)
    assert TOTAL in lines
    assert "INVOICE" not in lines and "Subtotal" not in lines


def test_invoice_pdf_render_english_stays_as_before():
    """An English invoice's PDF keeps its English words, ISO dates and decimal point."""
    _unicode_font()
    invoice = _invoice("en")
    lines = pdf_text(invoice_pdf_render(invoice=invoice, compress=False)).splitlines()
    assert {"INVOICE", "Subtotal", "Total EUR", "Due date: 2027-01-14"} <= set(lines)
    assert "1\u00a0235.01" in lines


def test_invoice_email_build_body_shape_in_latvian():
    """Mail as attachment No: the text table and the HTML alternative are Latvian too."""
    invoice = _invoice("lv", mail_as_attachment="no")
    config = _config(invoice.owner)
    parsed = _parsed(invoice_email_build(invoice=invoice, config=config), config)
    text = parsed.get_body(("plain",)).get_content()
    assert "Zemāk ir rēķins Nr. 2026-0042" in text
    assert "RĒĶINS 2026-0042" in text and "Izrakstīšanas datums: 31.12.2026" in text
    assert "Kopā EUR" in text and TOTAL in text and "Vienības cena" in text
    html = parsed.get_body(("html",)).get_content()
    assert 'lang="lv"' in html and "<h2>Rēķins 2026-0042</h2>" in html
    assert "Pārdevējs: Acme Trading" in html and TOTAL in html


def test_invoice_email_build_user_template_is_used_as_typed():
    """A template the user edited goes out as typed; its values follow the invoice's language."""
    invoice = _invoice("pl")
    config = _config(invoice.owner)
    message = invoice_email_build(
        invoice=invoice,
        config=config,
        subject_template="Invoice {number} due {due_date}",
        body_template="Amount: {total} {currency}",
    )
    parsed = _parsed(message, config)
    assert parsed["Subject"] == "Invoice 2026-0042 due 14.01.2027"
    assert parsed.get_body(("plain",)).get_content().strip() == f"Amount: {TOTAL} EUR"


def test_invoice_documents_message_build_each_in_its_language():
    """A job stores the English defaults; each message is written in its invoice's language."""
    kind = InvoiceDocuments()
    subjects = {}
    for language in ("en", "et"):
        invoice = _invoice(language)
        invoice.number = f"2026-00{language}"
        invoice.save()
        config = _config(invoice.owner)
        with translation.override("lv"):  # whatever the worker's language is
            message = kind.message_build(
                SimpleNamespace(invoice=invoice, company="Acme Trading"),
                config=config,
                subject_template=DEFAULT_SUBJECT_TEMPLATE,
                body_template=DEFAULT_BODY_TEMPLATE,
                message_id="<job-1-row@acme.test>",
            )
        subjects[language] = message.subject
        Invoice.objects.filter(pk=invoice.pk).delete()
    assert subjects == {
        "en": "Invoice 2026-00en from Acme Trading",
        "et": "Arve 2026-00et \u2013 Acme Trading",
    }


def test_money_format_follows_active_language():
    """Amounts: 12 345.60 in English, 12 345,60 in Estonian, Latvian and Polish."""
    with translation.override("en"):
        assert money_format(Decimal("12345.6")) == "12\u00a0345.60"
    for language in ("et", "lv", "pl"):
        with translation.override(language):
            assert money_format(Decimal("12345.6")) == "12\u00a0345,60"


def test_invoice_demo_create_spreads_languages_by_seed():
    """Demo invoices use all four languages, the first one English, the same for the same seed."""
    first = invoice_demo_create(owner_card=UserCardFactory(code="LANG1"), count=40, seed=7)
    again = invoice_demo_create(owner_card=UserCardFactory(code="LANG2"), count=40, seed=7)
    languages = [invoice.language for invoice in first]
    assert set(languages) == {"en", "et", "lv", "pl"}
    assert languages[0] == "en"
    assert languages == [invoice.language for invoice in again]
    stored = Invoice.objects.filter(pk__in=[i.pk for i in first]).order_by("pk")
    assert list(stored.values_list("language", flat=True)) == languages
