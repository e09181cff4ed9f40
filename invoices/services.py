"""Invoice services: stored totals and demo/benchmark data."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from customers.services import customers_for_addresses
from invoices.models import (
    DEFAULT_VAT_RATE,
    Invoice,
    InvoiceAttachment,
    InvoiceLine,
    totals_compute,
)
from users.models import UserCard

DEMO_NUMBER_PREFIX = "INV-"
_DEMO_NUMBER = re.compile(rf"^{DEMO_NUMBER_PREFIX}(\d{{7}})$")
#: About one demo invoice in twenty carries a file of its own.
DEMO_ATTACHMENT_SHARE = 0.05
_BULK_BATCH = 500


def invoice_totals_recompute(*, invoice: Invoice) -> Invoice:
    """Compute the totals from the invoice's lines and store them."""
    totals = invoice.totals_from_lines()
    invoice.subtotal, invoice.vat, invoice.total = totals.subtotal, totals.vat, totals.total
    invoice.save(update_fields=["subtotal", "vat", "total"])
    return invoice


# Realistic Baltic and Polish customers: (language, prefix, stems, suffixes) per country.
_COMPANIES = (
    (
        "et",
        "",
        (
            "Kivi Ehitus",
            "Põhja Puit",
            "Tamme Logistika",
            "Rannu Agro",
            "Järve Kinnisvara",
            "Metsa Transport",
            "Saare Kala",
            "Viru Tehnika",
            "Kuusiku Mööbel",
            "Läänemere Kaubandus",
        ),
        (" OÜ", " AS", " OÜ"),
    ),
    (
        "lv",
        "SIA ",
        (
            "Baltijas Koks",
            "Rīgas Tekstils",
            "Daugavas Loģistika",
            "Kurzemes Piens",
            "Vidzemes Būve",
            "Latgales Enerģija",
            "Jūrmalas Viesnīca",
        ),
        ("",),
    ),
    (
        "pl",
        "",
        (
            "Łódzka Hurtownia",
            "Kraków Meble",
            "Gdańsk Stocznia Serwis",
            "Poznańskie Okna",
            "Wrocławski Druk",
            "Śląska Stal",
            "Mazowieckie Zboże",
        ),
        (" Sp. z o.o.", " S.A.", " Sp. j."),
    ),
)

# (description, unit, price range in cents, quantity is fractional)
_PRODUCTS = (
    ("Consulting services", "h", (4500, 12000), True),
    ("Software licence, annual", "pcs", (12000, 240000), False),
    ("Birch plywood 18 mm", "m²", (1450, 3900), True),
    ("Pallet transport Tallinn-Riga", "trip", (28000, 65000), False),
    ("Installation works", "h", (3500, 7500), True),
    ("Steel beam HEA 200", "m", (4200, 9800), True),
    ("Office chairs", "pcs", (8900, 32000), False),
    ("Warehouse storage", "pallet·month", (900, 2400), False),
    ("Printing, A4 colour", "pcs", (8, 45), False),
    ("Maintenance contract, monthly", "month", (15000, 90000), False),
    ("Diesel fuel", "l", (149, 189), True),
    ("Web hosting", "month", (990, 4900), False),
    ("Translation EN-PL", "page", (1800, 3500), False),
    ("Concrete C30/37", "m³", (9500, 14500), True),
)


#: Every fourth demo invoice of a run (the first one included) is written in English, for a
#: customer abroad; the others in their customer's country's language.
DEMO_ENGLISH_EVERY = 4


def _demo_company(rng: random.Random) -> tuple[str, str]:
    """Return a customer's name and its country's language."""
    language, prefix, stems, suffixes = rng.choice(_COMPANIES)
    return f"{prefix}{rng.choice(stems)}{rng.choice(suffixes)}", language


def _demo_lines(rng: random.Random) -> list[InvoiceLine]:
    lines = []
    for position in range(1, rng.randint(1, 8) + 1):
        description, unit, (low, high), fractional = rng.choice(_PRODUCTS)
        if fractional:
            quantity = Decimal(rng.randint(5, 800)) / 10
        else:
            quantity = Decimal(rng.choice((1, 1, 1, 2, 3, 5, 10, 12, 25, 100)))
        lines.append(
            InvoiceLine(
                position=position,
                description=f"{description} ({unit})",
                quantity=quantity,
                unit_price=Decimal(rng.randint(low, high)) / 100,
                vat_rate=DEFAULT_VAT_RATE,
            )
        )
    return lines


def _demo_attachment(
    rng: random.Random, number: str, lines: list[InvoiceLine]
) -> InvoiceAttachment:
    rows = ["position;description;quantity"] + [
        f"{line.position};{line.description};{line.quantity}" for line in lines
    ]
    padding = "\n".join(
        f"# checked by warehouse, parcel {rng.randint(10**5, 10**6)}" for _ in range(20)
    )
    attachment = InvoiceAttachment(
        filename=f"delivery-note-{number}.csv",
        content_type="text/csv",
        data="\n".join([*rows, padding, ""]).encode(),
    )
    attachment.lines_fill()  # bulk_create skips save(), which encodes the lines
    return attachment


def _demo_next_number() -> int:
    # Numbers are zero-padded to one width, so the text order is the numeric order.
    last = (
        Invoice.objects.filter(number__regex=_DEMO_NUMBER.pattern)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    match = _DEMO_NUMBER.match(last or "")
    return int(match.group(1)) + 1 if match else 1


def demo_domain_check(domain: str) -> str:
    """Return the domain for demo customer addresses, or raise ValueError saying what is wrong."""
    domain = domain.strip().lower()
    try:
        validate_email(f"customer@{domain}")
    except ValidationError:
        raise ValueError(
            f"“{domain}” is not a usable e-mail domain; give one like example.test"
        ) from None
    return domain


@transaction.atomic
def invoice_demo_create(
    *,
    owner_card: UserCard,
    count: int,
    domain: str = "example.test",
    seed: int | None = None,
    today: date | None = None,
) -> list[Invoice]:
    """Create `count` realistic invoices of one owner in bulk, with lines and stored totals.

    The same seed gives the same invoices. Their languages are spread over English, Estonian,
    Latvian and Polish: each run's first invoice (and every fourth) is English, the others in
    the language of their customer's country.
    """
    if count < 1:
        raise ValueError(f"The number of invoices must be at least 1 (got {count}).")
    domain = demo_domain_check(domain)
    rng = random.Random(seed)  # noqa: S311  (demo data, not secrets)
    today = today or timezone.localdate()
    first = _demo_next_number()

    invoices: list[Invoice] = []
    lines_of: list[list[InvoiceLine]] = []
    for offset in range(count):
        number = f"{DEMO_NUMBER_PREFIX}{first + offset:07d}"
        company, language = _demo_company(rng)
        lines = _demo_lines(rng)
        totals = totals_compute((line.quantity, line.unit_price, line.vat_rate) for line in lines)
        issue_date = today - timedelta(days=rng.randint(0, 60))
        mailbox = rng.choice(("arved", "invoices", "accounting", "faktury", "rekini", "info"))
        invoices.append(
            Invoice(
                number=number,
                owner=owner_card,
                customer_name=company,
                customer_email=f"{mailbox}.{slugify(company)}@{domain}",
                language="en" if offset % DEMO_ENGLISH_EVERY == 0 else language,
                issue_date=issue_date,
                due_date=issue_date + timedelta(days=rng.choice((7, 14, 14, 21, 30))),
                currency="EUR",
                notes=rng.choice(("", "", "", "Order no. " + str(rng.randint(1000, 9999)))),
                subtotal=totals.subtotal,
                vat=totals.vat,
                total=totals.total,
            )
        )
        lines_of.append(lines)

    # Each address is one customer of the owner (found, else made), as a user would pick it.
    customers = customers_for_addresses(
        owner_card=owner_card,
        wanted=((i.customer_name, i.customer_email, i.language) for i in invoices),
    )
    for invoice in invoices:
        invoice.customer = customers.get(invoice.customer_email.lower())
    Invoice.objects.bulk_create(invoices, batch_size=_BULK_BATCH)
    all_lines, attachments = [], []
    for invoice, lines in zip(invoices, lines_of, strict=True):
        for line in lines:
            line.invoice = invoice
        all_lines.extend(lines)
        if rng.random() < DEMO_ATTACHMENT_SHARE:
            attachment = _demo_attachment(rng, invoice.number, lines)
            attachment.invoice = invoice
            attachments.append(attachment)
    InvoiceLine.objects.bulk_create(all_lines, batch_size=_BULK_BATCH * 4)
    InvoiceAttachment.objects.bulk_create(attachments, batch_size=_BULK_BATCH)
    return invoices
