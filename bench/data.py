"""The benchmark's data: cards that send through the sink, padded invoices, prebuilt messages."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from invoices.documents import invoice_email_build
from invoices.models import Invoice, InvoiceAttachment
from invoices.services import invoice_demo_create
from mailer.messages import message_envelope
from mailer.services import sender_config_get
from users.models import MailAsAttachment, MailSender, SslTls, SystemSettings, UserCard

COMPANY = "Acme Trading"
#: Bytes of the signed delivery note scan each benchmark invoice carries: with the invoice PDF
#: the message is about 86 KB, the size the issue names.
PADDING_BYTES = 52_000


@dataclass(frozen=True)
class Prebuilt:
    """One message in both forms the peers need: its parts and its bytes."""

    envelope_from: str
    recipients: list[str]
    raw: bytes
    from_email: str
    to: list[str]
    subject: str
    body: str
    alternatives: list[tuple[str, str]]
    attachments: list[tuple[str, bytes, str]]
    headers: dict[str, str]


def database_prepare() -> None:
    """Bring the benchmark database's schema up to date."""
    call_command("migrate", verbosity=0, interactive=False)


def card_ensure(
    *,
    code: str,
    server: str,
    password: str,
    pdf: bool = True,
    attachments: bool = True,
    ssl_tls: str = SslTls.STARTTLS,
) -> UserCard:
    """Create or update an SMTP card that sends through the sink (STARTTLS or SSL, AUTH)."""
    user, _ = get_user_model().objects.get_or_create(username=code)
    # The database outlives a checkout, the benchmark key (var/) does not: forget a password
    # stored under another checkout's key before the row is loaded (and decrypted) below.
    UserCard.objects.filter(code=code).update(smtp_password="")
    email = f"{code.lower()}@acme.test"
    card, _ = UserCard.objects.update_or_create(
        code=code,
        defaults={
            "user": user,
            "name": f"{code.title()} Sender",
            "email": email,
            "mail_sender": MailSender.SMTP,
            "mail_server": server,
            "ssl_tls": ssl_tls,
            "smtp_username": email,
            "smtp_password": password,
            "mail_as_attachment": MailAsAttachment.PDF if pdf else MailAsAttachment.NO,
            "attachments_with_email": attachments,
        },
    )
    settings = SystemSettings.load()
    if settings.company_name != COMPANY:
        settings.company_name = COMPANY
        settings.save()
    return card


def invoices_ensure(*, card: UserCard, count: int, pad: bool, seed: int) -> list[int]:
    """Return the ids of `count` invoices of the card, creating the missing ones in bulk."""
    have = list(Invoice.objects.filter(owner=card).order_by("pk").values_list("pk", flat=True))
    if len(have) < count:
        created = invoice_demo_create(
            owner_card=card, count=count - len(have), seed=seed + len(have)
        )
        if pad:
            rng = random.Random(seed)  # noqa: S311  (padding bytes, not secrets)
            scans = [
                InvoiceAttachment(
                    invoice=invoice,
                    filename=f"signed-delivery-note-{invoice.number}.jpg",
                    content_type="image/jpeg",
                    data=rng.randbytes(PADDING_BYTES),
                )
                for invoice in created
            ]
            for scan in scans:
                scan.lines_fill()  # as save() does: bulk_create skips it
            InvoiceAttachment.objects.bulk_create(scans, batch_size=200)
        have += [invoice.pk for invoice in created]
    return have[:count]


def messages_prebuild(*, card: UserCard, invoice_ids: list[int]) -> list[Prebuilt]:
    """Build each invoice's message once, as the project would send it."""
    config = sender_config_get(card=card)
    invoices = (
        Invoice.objects.filter(pk__in=invoice_ids)
        .select_related("owner")
        .prefetch_related("lines", "attachments")
        .order_by("pk")
    )
    built = []
    for invoice in invoices:
        message = invoice_email_build(invoice=invoice, config=config, company=COMPANY)
        envelope_from, recipients, raw = message_envelope(message, config)
        attachments: list[Any] = list(message.attachments)
        built.append(
            Prebuilt(
                envelope_from=envelope_from,
                recipients=list(recipients),
                raw=raw,
                from_email=str(message.from_email),
                to=list(message.to),
                subject=str(message.subject),
                body=str(message.body),
                alternatives=[(str(a[0]), str(a[1])) for a in message.alternatives],
                attachments=[(a.filename, a.content, a.mimetype) for a in attachments],
                headers={"Message-ID": str(message.extra_headers["Message-ID"])},
            )
        )
    return built


def small_messages(*, count: int, envelope_from: str) -> list[Prebuilt]:
    """Return small control messages (about 1 KB, no attachment) of the same shape."""
    from django.core.mail import EmailMessage, make_msgid

    built = []
    for index in range(count):
        to = [f"customer{index}@example.test"]
        subject = f"Payment reminder {index}"
        body = "Dear customer,\n\nThis is a short control message.\n" * 12
        headers = {"Message-ID": make_msgid(domain="acme.test")}
        message = EmailMessage(subject, body, envelope_from, to, headers=headers)
        raw = message.message().as_bytes()
        built.append(
            Prebuilt(envelope_from, to, raw, envelope_from, to, subject, body, [], [], headers)
        )
    return built


def table_truncate(*models: Any) -> None:
    """Empty the tables of some models (benchmark leftovers of an earlier round)."""
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")
