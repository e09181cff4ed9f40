"""The invoice e-mail: the card decides whether the invoice is a PDF attachment or the body."""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Case, F, Func, Q, QuerySet, TextField, When
from django.db.models.functions import Length
from django.utils import timezone, translation
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from invoices.causes import InvoiceCause
from invoices.models import Invoice, InvoiceAttachment, StoredDocument
from invoices.pdf import (
    date_format,
    invoice_pdf_key,
    invoice_pdf_render,
    money_format,
    price_format,
    quantity_format,
    seller_name,
)
from mailer.messages import Attachment, EncodedAttachment, attachment_base64, message_build
from massmail.documents import (
    DocumentError,
    DocumentTemplateError,
    TemplateProblem,
    template_problem,
)
from users.models import MailAsAttachment, SystemSettings

if TYPE_CHECKING:
    from decimal import Decimal

    from django.core.mail import EmailMultiAlternatives
    from django_stubs_ext import StrOrPromise

    from mailer.config import SenderConfig

#: The default templates, in English as stored on a job; an invoice's e-mail uses their
#: translation into the invoice's language (each keeps the same placeholders).
DEFAULT_SUBJECT_TEMPLATE = gettext_noop("Invoice {number} from {company}")
DEFAULT_BODY_TEMPLATE = gettext_noop(
    "Dear {customer},\n"
    "\n"
    "{document_intro} invoice {number} of {issue_date} for {total} {currency}, "
    "due on {due_date}.\n"
    "\n"
    "Kind regards,\n"
    "{sender}\n"
    "{company}"
)

#: The placeholders a subject or body template may use (the "Mail edit" form lists them).
PLACEHOLDERS: Mapping[str, StrOrPromise] = {
    "number": _("invoice number"),
    "customer": _("customer name"),
    "customer_email": _("customer e-mail address"),
    "issue_date": _("issue date (in the customer's language: 2026-12-31 or 31.12.2026)"),
    "due_date": _("due date (in the customer's language: 2026-12-31 or 31.12.2026)"),
    "subtotal": _("total without VAT"),
    "vat": _("VAT amount"),
    "total": _("total with VAT"),
    "currency": _("currency code, e.g. EUR"),
    "company": _("your company name (System settings; else your name)"),
    "sender": _("your name (user card)"),
    "sender_email": _("your e-mail address (user card)"),
    "document_intro": _("“Please find attached” (PDF) or “Below is” (in the body)"),
}
_PDF_INTRO = gettext_noop("Please find attached")
_BODY_INTRO = gettext_noop("Below is")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
#: The line end of base64 lines kept for messages: SMTP's, so that they are sent as stored.
CRLF = "\r\n"
#: The attribute a batch's attachments carry their data in (invoice_attachments_encoded):
#: the stored encoded_lines (CRLF-ended) while they are current, else PostgreSQL's
#: encode(data, 'base64'), 76-character lines ended by LF.
ATTACHMENT_LINES = "data_base64"


class InvoiceTemplateError(DocumentTemplateError, ValueError):
    """A subject or body template is malformed or uses a placeholder that does not exist."""

    causes = (
        InvoiceCause.TEMPLATE_INVALID,
        InvoiceCause.TEMPLATE_PLACEHOLDER_UNKNOWN,
        InvoiceCause.TEMPLATE_PLACEHOLDER_FORMATTED,
    )


class InvoiceRecipientError(DocumentError, ValueError):
    """The invoice's customer e-mail address is missing or invalid; only this invoice fails."""

    causes = (
        InvoiceCause.RECIPIENT_MISSING,
        InvoiceCause.RECIPIENT_LINE_BREAK,
        InvoiceCause.RECIPIENT_SEVERAL,
        InvoiceCause.RECIPIENT_INVALID,
    )


def invoice_recipient_error(invoice: Invoice) -> InvoiceRecipientError | None:
    """Return why the invoice's customer address cannot be mailed to, or None when it can."""
    problem = invoice.customer_email_cause()
    return None if problem is None else InvoiceRecipientError(problem[0], params=problem[1])


def invoice_template_check(template: str, *, field: str = "template") -> None:
    """Raise InvoiceTemplateError unless every placeholder is a plain name from PLACEHOLDERS."""
    found = template_problem(template, PLACEHOLDERS)
    if found is None:
        return
    problem, name = found
    if problem is TemplateProblem.MALFORMED:
        raise InvoiceTemplateError(InvoiceCause.TEMPLATE_INVALID, field=field)
    if problem is TemplateProblem.UNKNOWN:
        known = ", ".join(f"{{{placeholder}}}" for placeholder in PLACEHOLDERS)
        raise InvoiceTemplateError(
            InvoiceCause.TEMPLATE_PLACEHOLDER_UNKNOWN, field=field, placeholder=name, known=known
        )
    raise InvoiceTemplateError(
        InvoiceCause.TEMPLATE_PLACEHOLDER_FORMATTED, field=field, placeholder=name
    )


def template_render(template: str, values: Mapping[str, str], *, field: str = "template") -> str:
    """Fill a checked template's placeholders with the values (plain text, no attribute access)."""
    invoice_template_check(template, field=field)
    return template.format_map(dict(values))


def invoice_placeholder_values(*, invoice: Invoice, company: str, as_pdf: bool) -> dict[str, str]:
    """Return the text of every placeholder for one invoice, in the active language."""
    owner = invoice.owner
    return {
        "number": invoice.number,
        "customer": invoice.customer_name,
        "customer_email": invoice.customer_email.strip(),
        "issue_date": date_format(invoice.issue_date),
        "due_date": date_format(invoice.due_date),
        "subtotal": money_format(invoice.subtotal),
        "vat": money_format(invoice.vat),
        "total": money_format(invoice.total),
        "currency": invoice.currency,
        "company": company,
        "sender": owner.name or owner.code,
        "sender_email": owner.email,
        "document_intro": gettext(_PDF_INTRO if as_pdf else _BODY_INTRO),
    }


def invoice_pdf_filename(invoice: Invoice) -> str:
    """Return `invoice-<number>.pdf`, the number reduced to characters safe in a file name."""
    return f"invoice-{_UNSAFE_FILENAME.sub('-', invoice.number).strip('-.') or invoice.pk}.pdf"


def invoice_attachment_part(own: InvoiceAttachment) -> Attachment | EncodedAttachment:
    """Return an invoice's own file as the message's attachment, base64-encoded in one pass.

    A binary file (a scanned delivery note) becomes CRLF-ended base64 lines that the message
    copies verbatim: the same part as attach() makes, without the email package encoding and
    writing it line by line. A text/* or message/* file goes through attach() as before (it
    is not base64: Django writes text as text and embeds a message). An attachment of
    invoice_attachments_encoded() brings its lines along (stored or PostgreSQL's): it is
    neither read as bytes nor encoded here.
    """
    mimetype = own.content_type or "application/octet-stream"
    maintype, slash, _subtype = mimetype.partition("/")
    encoded: str | None = getattr(own, ATTACHMENT_LINES, None)
    if not slash or maintype.lower() in ("text", "message"):
        data = own.data if encoded is None else binascii.a2b_base64(encoded)
        return Attachment(own.filename, bytes(data), mimetype)
    if encoded is None:
        lines = attachment_base64(bytes(own.data), linesep=CRLF)
    elif CRLF in encoded:
        lines = encoded  # the attachment's stored lines, made when its data was saved
    else:
        # PostgreSQL wraps at 76 characters as attachment_base64 does, ends the lines in LF
        # and a last full line with one LF more: the same lines, CRLF-ended.
        encoded = encoded.rstrip("\n")
        lines = encoded.replace("\n", CRLF) + CRLF if encoded else ""
    return EncodedAttachment(own.filename, lines, mimetype)


class _Base64(Func):
    """PostgreSQL's encode(bytea, 'base64'): cheaper for the server than the hex it sends."""

    function = "encode"
    template = "%(function)s(%(expressions)s, 'base64')"
    output_field = TextField()


def invoice_attachments_encoded() -> QuerySet[InvoiceAttachment]:
    """Return invoice attachments as a batch mails them: base64 lines instead of the bytes.

    On PostgreSQL ATTACHMENT_LINES is the attachment's stored lines when they are current
    (their encoded_size equals length(data), which the server reads without the data), else
    the server encodes the data, where it would otherwise send the bytes as hex for the worker
    to decode and encode again; neither the data nor a second copy of the lines is sent.
    Elsewhere the bytes are loaded and invoice_attachment_part encodes them.
    """
    attachments = InvoiceAttachment.objects.all()
    if connection.vendor != "postgresql":
        return attachments.defer("encoded_lines")
    current = Q(encoded_size=Length("data"))
    lines = Case(When(current, then=F("encoded_lines")), default=_Base64(F("data")))
    return attachments.defer("data", "encoded_lines").annotate(**{ATTACHMENT_LINES: lines})


def stored_documents_find(*, keys: Iterable[str]) -> dict[str, StoredDocument]:
    """Return the stored documents of the keys that have one, in one query (no PDF bytes)."""
    found = StoredDocument.objects.filter(key__in=set(keys)).defer("pdf")
    return {document.key: document for document in found}


def stored_documents_render(
    *, invoices: Iterable[tuple[str, Invoice, str]]
) -> dict[str, StoredDocument]:
    """Render and store the PDF of each (key, invoice, seller name), in one INSERT.

    A document that another worker stored meanwhile is left as it is: equal keys, equal bytes.
    """
    made: dict[str, StoredDocument] = {}
    for key, invoice, company in invoices:
        if key not in made:
            pdf = invoice_pdf_render(invoice=invoice, company=company)
            # Stored as they travel (CRLF-ended lines): every message copies them verbatim.
            made[key] = StoredDocument(
                key=key, pdf=pdf, pdf_base64=attachment_base64(pdf, linesep=CRLF)
            )
    StoredDocument.objects.bulk_create(made.values(), ignore_conflicts=True)
    return made


def stored_document_keys_needed(*, chunk_size: int = 2000) -> set[str]:
    """Return the content key of every invoice's PDF as it would be rendered now.

    That is every document a send can still ask for: a mass-mail job (queued, running or
    paused) loads each invoice when it sends it and looks its PDF up by this very key.
    """
    company = SystemSettings.load().company_name
    invoices = Invoice.objects.select_related("owner").prefetch_related("lines").order_by("pk")
    labels: dict[str, list[str]] = {}  # each language's PDF labels, translated once
    return {
        # seller_name() without reading the system settings again for each invoice.
        invoice_pdf_key(
            invoice=invoice,
            company=company or invoice.owner.name or invoice.owner.code,
            labels=labels,
        )
        for invoice in invoices.iterator(chunk_size=chunk_size)
    }


def stored_documents_purge(*, batch_size: int = 1000) -> int:
    """Delete the stored documents no invoice's current content key names; return how many.

    Such a document belongs to an invoice as it was before an edit, to a deleted invoice, or
    to an earlier RENDERER_VERSION (or font, or translation of the PDF's labels). A document
    stored after the purge began is kept: a worker may have stored it for an invoice that was
    edited meanwhile. Documents are a cache: one that is wanted again is rendered again.
    """
    started = timezone.now()
    needed = stored_document_keys_needed()
    candidates = StoredDocument.objects.filter(created_at__lt=started).order_by("pk")
    stale = [pk for pk, key in candidates.values_list("pk", "key").iterator() if key not in needed]
    for start in range(0, len(stale), batch_size):
        StoredDocument.objects.filter(pk__in=stale[start : start + batch_size]).delete()
    return len(stale)


def invoice_document_get(*, invoice: Invoice, company: str | None = None) -> StoredDocument:
    """Return the invoice's stored PDF, rendering and storing it when this content has none."""
    company = seller_name(invoice) if company is None else company
    key = invoice_pdf_key(invoice=invoice, company=company)
    found = stored_documents_find(keys=[key]).get(key)
    if found is not None:
        return found
    return stored_documents_render(invoices=[(key, invoice, company)])[key]


def _table_rows(invoice: Invoice) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            line.description,
            quantity_format(line.quantity),
            price_format(line.unit_price),
            f"{quantity_format(line.vat_rate)} %",
            money_format(line.net_amount),
        )
        for line in invoice.lines.all()
    ]


def _table_header(invoice: Invoice) -> tuple[str, str, str, str, str]:
    return (
        gettext("Description"),
        gettext("Quantity"),
        gettext("Unit price"),
        gettext("VAT"),
        gettext("Amount {currency}").format(currency=invoice.currency),
    )


def _totals(invoice: Invoice) -> list[tuple[str, Decimal]]:
    return [
        (gettext("Subtotal"), invoice.subtotal),
        (gettext("VAT"), invoice.vat),
        (gettext("Total {currency}").format(currency=invoice.currency), invoice.total),
    ]


def invoice_text_render(invoice: Invoice, *, company: str) -> str:
    """Return the invoice as a plain-text table for the body of an e-mail (active language)."""
    header = _table_header(invoice)
    rows = _table_rows(invoice)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    widths[0] = min(widths[0], 48)

    def row_text(row: tuple[str, ...]) -> str:
        first = row[0] if len(row[0]) <= widths[0] else row[0][: widths[0] - 1] + "…"
        cells = [first.ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(row_text(header))
    label_width = len(rule) - widths[-1] - 2
    totals = [
        f"{label:>{label_width}}  {money_format(amount):>{widths[-1]}}"
        for label, amount in _totals(invoice)
    ]
    return "\n".join(
        [
            gettext("INVOICE {number}").format(number=invoice.number),
            gettext("Seller: {company}").format(company=company),
            gettext("Customer: {customer}").format(customer=invoice.customer_name),
            gettext("Issue date: {date}").format(date=date_format(invoice.issue_date)),
            gettext("Due date: {date}").format(date=date_format(invoice.due_date)),
            "",
            row_text(header),
            rule,
            *(row_text(row) for row in rows),
            rule,
            *totals,
            *(["", invoice.notes] if invoice.notes else []),
        ]
    )


def invoice_html_render(invoice: Invoice, *, company: str, letter: str) -> str:
    """Return the letter and the invoice as an HTML document (every value escaped)."""
    details = "<br>".join(
        escape(text)
        for text in (
            gettext("Seller: {company}").format(company=company),
            gettext("Customer: {customer}").format(customer=invoice.customer_name),
            gettext("Issue date: {date}").format(date=date_format(invoice.issue_date)),
            gettext("Due date: {date}").format(date=date_format(invoice.due_date)),
        )
    )
    title = gettext("Invoice {number}").format(number=invoice.number)
    cell = 'style="padding:4px 8px;border-bottom:1px solid #dde1e6;text-align:{}"'
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td {cell.format('left' if index == 0 else 'right')}>{escape(value)}</td>"
            for index, value in enumerate(row)
        )
        + "</tr>"
        for row in _table_rows(invoice)
    )
    head = "".join(
        f"<th {cell.format('left' if index == 0 else 'right')}>{escape(title)}</th>"
        for index, title in enumerate(_table_header(invoice))
    )
    totals = "".join(
        f'<tr><td colspan="4" {cell.format("right")}>{escape(label)}</td>'
        f"<td {cell.format('right')}>{escape(money_format(amount))}</td></tr>"
        for label, amount in _totals(invoice)
    )
    notes = linebreaks(invoice.notes, autoescape=True) if invoice.notes else ""
    return (
        f'<!DOCTYPE html><html lang="{escape(translation.get_language() or "en")}"><head>'
        '<meta charset="utf-8"></head>'
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#1d232b">'
        f"{linebreaks(letter, autoescape=True)}"
        f"<h2>{escape(title)}</h2>"
        f"<p>{details}</p>"
        f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}{totals}</tbody></table>{notes}</body></html>"
    )


def invoice_email_build(
    *,
    invoice: Invoice,
    config: SenderConfig,
    subject_template: str | None = None,
    body_template: str | None = None,
    message_id: str | None = None,
    company: str | None = None,
    document: StoredDocument | None = None,
) -> EmailMultiAlternatives:
    """Build the e-mail of one invoice in the shape its owner's card asks for.

    `company` is the seller name when the caller already knows it (a mass-mail batch looks it
    up once instead of twice per invoice). `document` is the invoice's stored PDF when the
    caller looked it up (a batch finds all of its invoices' in one query); without it the PDF
    is looked up by its content key, and rendered and stored only when that content has none.
    The PDF part carries the stored base64 lines: no message renders or encodes it again.

    The e-mail and its PDF are written in the invoice's language (`Invoice.language`): the
    default templates (None, or the English defaults a job stores) are used in their
    translation, dates and amounts as that language writes them; a template the user edited
    is used as typed.

    Raises InvoiceRecipientError when the customer address is unusable and InvoiceTemplateError
    when a template is malformed; a mass-mail job fails that one invoice with the error's cause.
    """
    problem = invoice_recipient_error(invoice)
    if problem is not None:
        raise problem
    with translation.override(invoice.language or "en"):
        return _email_build(
            invoice=invoice,
            config=config,
            subject_template=subject_template,
            body_template=body_template,
            message_id=message_id,
            company=company,
            document=document,
        )


def template_default_or_own(template: str | None, default: str) -> str:
    """Return the default template in the active language, or the user's own one as typed.

    None and the English default (as a job stores it) mean the default.
    """
    if template is None or template == default:
        return gettext(default)
    return template


def _email_build(
    *,
    invoice: Invoice,
    config: SenderConfig,
    subject_template: str | None,
    body_template: str | None,
    message_id: str | None,
    company: str | None,
    document: StoredDocument | None,
) -> EmailMultiAlternatives:
    card = invoice.owner
    as_pdf = card.mail_as_attachment == MailAsAttachment.PDF
    company = seller_name(invoice) if company is None else company
    values = invoice_placeholder_values(invoice=invoice, company=company, as_pdf=as_pdf)
    # A line break in a subject would be a header injection: fold the values to one line (the
    # template itself is still checked by message_build).
    subject = template_render(
        template_default_or_own(subject_template, DEFAULT_SUBJECT_TEMPLATE),
        {key: " ".join(value.split()) for key, value in values.items()},
        field="subject",
    )
    letter = template_render(
        template_default_or_own(body_template, DEFAULT_BODY_TEMPLATE),
        values,
        field="body",
    )

    attachments: list[Attachment | EncodedAttachment] = []
    html: str | None = None
    if as_pdf:
        body = letter
        if document is None:
            document = invoice_document_get(invoice=invoice, company=company)
        attachments.append(
            EncodedAttachment(invoice_pdf_filename(invoice), document.pdf_base64, "application/pdf")
        )
    else:
        body = f"{letter}\n\n{invoice_text_render(invoice, company=company)}\n"
        html = invoice_html_render(invoice, company=company, letter=letter)
    if card.attachments_with_email:
        attachments.extend(invoice_attachment_part(own) for own in invoice.attachments.all())
    return message_build(
        config=config,
        to=[invoice.customer_email.strip()],
        subject=subject,
        body=body,
        html=html,
        attachments=attachments,
        message_id=message_id,
    )
