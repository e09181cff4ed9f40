"""The signed-in user's own invoices: their mail status, a draft, and sending one at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from invoices.documents import (
    DEFAULT_BODY_TEMPLATE,
    DEFAULT_SUBJECT_TEMPLATE,
    invoice_email_build,
    invoice_pdf_filename,
)
from invoices.mailing import KIND, invoice_label
from invoices.models import Invoice
from mailer.services import SEND_ERRORS, mail_send, sender_config_get
from massmail.documents import DocumentError
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from users.models import MailAsAttachment

if TYPE_CHECKING:
    from events.errors import UserFacingError
    from users.models import UserCard


@dataclass(frozen=True)
class InvoiceWithMail:
    """An invoice and its latest e-mail (the newest invoice row of any job), if any."""

    invoice: Invoice
    mail: OutgoingMail | None


def invoices_with_mail(*, card: UserCard) -> list[InvoiceWithMail]:
    """Return the card's invoices, newest first, each with its latest invoice e-mail row."""
    latest = (
        OutgoingMail.objects.filter(
            job__owner=card, job__document_kind=KIND, document_id=OuterRef("pk")
        )
        .order_by("-id")
        .values("id")[:1]
    )
    pairs = list(
        Invoice.objects.filter(owner=card)
        .annotate(mail_id=Subquery(latest))
        .order_by("-issue_date", "-number")
        .values_list("pk", "mail_id")
    )
    invoices = Invoice.objects.in_bulk([pk for pk, _mail in pairs])
    mails = OutgoingMail.objects.in_bulk([mail for _pk, mail in pairs if mail])
    return [
        InvoiceWithMail(invoice=invoices[pk], mail=mails.get(mail) if mail else None)
        for pk, mail in pairs
    ]


def invoice_own_get(*, card: UserCard, invoice_id: int) -> Invoice:
    """Return one of the card's own invoices; any other id is a 404 (never a 403)."""
    invoice = (
        Invoice.objects.filter(owner=card, pk=invoice_id).prefetch_related("attachments").first()
    )
    if invoice is None:
        raise Http404(gettext("No such invoice."))
    return invoice


@dataclass(frozen=True)
class InvoiceDraft:
    """What "Mail edit" shows before one invoice is sent: the e-mail as it would go out."""

    recipient: str
    subject: str
    body: str
    attachments: list[str]


def invoice_draft(*, invoice: Invoice) -> InvoiceDraft:
    """Return the editable draft of an invoice's e-mail: its address, the default templates."""
    card = invoice.owner
    names = []
    if card.mail_as_attachment == MailAsAttachment.PDF:
        names.append(invoice_pdf_filename(invoice))
    if card.attachments_with_email:
        names.extend(own.filename for own in invoice.attachments.all())
    return InvoiceDraft(
        recipient=invoice.customer_email.strip(),
        subject=gettext(DEFAULT_SUBJECT_TEMPLATE),
        body=gettext(DEFAULT_BODY_TEMPLATE),
        attachments=names,
    )


def invoice_send_now(
    *,
    card: UserCard,
    invoice_id: int,
    recipient: str | None = None,
    subject_template: str | None = None,
    body_template: str | None = None,
    created_by: str = "",
) -> OutgoingMail:
    """Send one of the card's invoices now, through its resolved settings, and record it.

    The outcome is kept as a finished one-invoice job (kind "invoice"), so that the invoice's
    mail status, the job history and "every unsent invoice" count it like a mass-mailed one.
    A template left None (or the default) is used in the customer's language. Returns the row:
    sent, or failed with its cause (a bad recipient, a template error, the server's refusal).
    """
    invoice = invoice_own_get(card=card, invoice_id=invoice_id)
    invoice.owner = card
    if recipient is not None:
        # Only this e-mail: the invoice keeps its customer's address.
        invoice.customer_email = recipient
    config = sender_config_get(card=card)
    error: UserFacingError | None = None
    message_id = ""
    try:
        message = invoice_email_build(
            invoice=invoice,
            config=config,
            subject_template=subject_template,
            body_template=body_template,
        )
        message_id = str(message.extra_headers.get("Message-ID", ""))
        mail_send(card=card, message=message, config=config)
    except (*SEND_ERRORS, DocumentError) as exc:
        error = exc
    return _outcome_record(
        card=card,
        invoice=invoice,
        subject_template=subject_template or DEFAULT_SUBJECT_TEMPLATE,
        body_template=body_template or DEFAULT_BODY_TEMPLATE,
        message_id=message_id,
        error=error,
        created_by=created_by,
    )


def _outcome_record(
    *,
    card: UserCard,
    invoice: Invoice,
    subject_template: str,
    body_template: str,
    message_id: str,
    error: UserFacingError | None,
    created_by: str,
) -> OutgoingMail:
    now = timezone.now()
    failed = error is not None
    with transaction.atomic():
        job = MassMailJob.objects.create(
            owner=card,
            document_kind=KIND,
            status=JobStatus.FINISHED,
            subject_template=subject_template,
            body_template=body_template,
            total=1,
            sent_count=0 if failed else 1,
            failed_count=1 if failed else 0,
            created_by=created_by,
            started_at=now,
            finished_at=now,
        )
        return OutgoingMail.objects.create(
            job=job,
            document_id=invoice.pk,
            document_label=invoice_label(invoice.number, invoice.customer_name),
            recipient=invoice.customer_email.strip()[:320],
            message_id=message_id,
            status=MailStatus.FAILED if failed else MailStatus.SENT,
            cause=str(error.cause) if error is not None else "",
            params=dict(error.params) if error is not None else {},
            user_message=error.message if error is not None else "",
            smtp_code=getattr(error, "smtp_code", None),
            attempts=1,
            sent_at=None if failed else now,
        )
