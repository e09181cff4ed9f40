"""factory_boy factories and builders: cards, system settings, invoices."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import factory
from django.contrib.auth import get_user_model

from invoices.models import Invoice, InvoiceAttachment, InvoiceLine
from invoices.services import invoice_totals_recompute
from users.models import MailSender, SslTls, SystemSettings, UserCard

if TYPE_CHECKING:
    from tests.smtp_servers import Server

#: The password of the cards `server_card` makes (non-ASCII: AUTH must send it in UTF-8).
SERVER_CARD_PASSWORD = "Sälajane-parool-1"
PORT_TLS = {25: "no", 465: "ssl", 587: "starttls"}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"U{n:03d}")
    password = factory.django.Password("correct-horse-battery-staple")


class UserCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserCard

    code = factory.Sequence(lambda n: f"USR{n:03d}")
    user = factory.SubFactory(UserFactory, username=factory.SelfAttribute("..code"))
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda card: f"{card.code.lower()}@example.test")
    mail_sender = MailSender.DIRECTO


class SmtpCardFactory(UserCardFactory):
    mail_sender = MailSender.SMTP
    mail_server = "smtp.example.test:587"
    ssl_tls = SslTls.STARTTLS
    smtp_username = factory.LazyAttribute(lambda card: card.email)
    smtp_password = "s3cret-pass"


def system_settings_set(**values: object) -> SystemSettings:
    """Save the singleton with the given values."""
    row = SystemSettings.load()
    for key, value in values.items():
        setattr(row, key, value)
    row.save()
    return row


def server_card(server: Server, *, code: str = "KIVI", **values: object) -> UserCard:
    """Create a card whose own SMTP server is the given local server, named by its address."""
    email = f"{code.lower()}@acme.test"
    defaults = {
        "code": code,
        "email": email,
        "mail_server": f"{server.address}:{server.port}",
        "ssl_tls": PORT_TLS[server.port],
        "smtp_username": email,
        "smtp_password": SERVER_CARD_PASSWORD,
    }
    return SmtpCardFactory(**(defaults | values))


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
