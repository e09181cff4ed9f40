"""Invoices as a kind of document that mass mailing sends (massmail.documents)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from invoices.causes import InvoiceCause
from invoices.documents import (
    DEFAULT_BODY_TEMPLATE,
    DEFAULT_SUBJECT_TEMPLATE,
    invoice_attachments_encoded,
    invoice_email_build,
    invoice_recipient_error,
    invoice_template_check,
    stored_documents_find,
    stored_documents_render,
)
from invoices.models import Invoice, StoredDocument
from invoices.pdf import invoice_pdf_key, seller_name
from massmail.documents import DocumentError, DocumentKind, DocumentRow, documents_mailed
from massmail.jobs import massmail_job_create
from massmail.models import MassMailJob
from users.models import MailAsAttachment

if TYPE_CHECKING:
    from django.core.mail import EmailMessage

    from mailer.config import SenderConfig
    from users.models import UserCard

KIND = "invoice"


def invoices_unsent(*, card: UserCard) -> QuerySet[Invoice]:
    """Return the card's invoices that no job has sent, may have sent, or is sending."""
    mailed = documents_mailed(kind=KIND).filter(document_id=OuterRef("pk"))
    return Invoice.objects.filter(owner=card).filter(~Exists(mailed))


def invoice_label(number: str, customer: str) -> str:
    """Return what a job page calls an invoice: "Invoice 2026-0042, Acme Ltd".

    The label is stored with the row in the language of the user who starts the job.
    """
    if customer:
        return gettext("Invoice {number}, {customer}").format(number=number, customer=customer)
    return gettext("Invoice {number}").format(number=number)


class InvoicesNotOwnedError(DocumentError):
    """A job names invoices that are not the card's (or do not exist)."""

    causes = (InvoiceCause.INVOICES_NOT_OWNED,)


@dataclass(frozen=True)
class _Mailable:
    invoice: Invoice
    company: str
    document: StoredDocument | None = None


class InvoiceDocuments(DocumentKind):
    """Each invoice goes to its customer, as a PDF attachment or in the body (the card says)."""

    name = KIND
    plural = "invoices"
    verbose_name_plural = _("Invoices")
    start_url_name = "invoices:list"
    nothing_to_mail = InvoiceCause.NO_INVOICES
    default_subject = DEFAULT_SUBJECT_TEMPLATE
    default_body = DEFAULT_BODY_TEMPLATE

    def templates_check(self, *, subject: str, body: str) -> None:
        invoice_template_check(subject, field="subject")
        invoice_template_check(body, field="body")

    def rows(self, *, card: UserCard, ids: Collection[int] | None) -> list[DocumentRow]:
        invoices = (
            invoices_unsent(card=card)
            if ids is None
            else Invoice.objects.filter(owner=card, pk__in=ids)
        )
        found = list(
            invoices.order_by("pk").values_list("pk", "number", "customer_name", "customer_email")
        )
        if ids is not None:
            foreign = sorted(set(ids) - {row[0] for row in found})
            if foreign:
                shown = ", ".join(map(str, foreign[:20])) + (" …" if len(foreign) > 20 else "")
                raise InvoicesNotOwnedError(
                    InvoiceCause.INVOICES_NOT_OWNED, params={"ids": shown, "code": card.code}
                )
        return [
            DocumentRow(
                document_id=pk,
                recipient=address,
                label=invoice_label(number, customer),
                # The model's own check, on a light unsaved instance: no invoice is loaded here.
                problem=invoice_recipient_error(Invoice(number=number, customer_email=address)),
            )
            for pk, number, customer, address in found
        ]

    def load(self, *, card: UserCard, ids: Collection[int]) -> Mapping[int, Any]:
        relations: list[str | Prefetch[Any]] = ["lines"]
        if card.attachments_with_email:
            # Their data as the base64 lines the messages carry, not as bytes to encode.
            relations.append(Prefetch("attachments", queryset=invoice_attachments_encoded()))
        invoices = Invoice.objects.filter(owner=card, pk__in=ids).prefetch_related(*relations)
        loaded: dict[int, _Mailable] = {}
        company = ""
        for invoice in invoices:
            invoice.owner = card
            # One seller name per batch: it reads the system settings.
            company = company or seller_name(invoice)
            loaded[invoice.pk] = _Mailable(invoice=invoice, company=company)
        if card.mail_as_attachment == MailAsAttachment.PDF:
            loaded = self._documents_attach(loaded)
        return loaded

    @staticmethod
    def _documents_attach(loaded: dict[int, _Mailable]) -> dict[int, _Mailable]:
        """Give each mailable its stored PDF: one query for the batch, one INSERT for new ones."""
        labels: dict[str, list[str]] = {}  # each language's PDF labels, once per batch
        keys = {
            pk: invoice_pdf_key(invoice=mailable.invoice, company=mailable.company, labels=labels)
            for pk, mailable in loaded.items()
            # An invoice that cannot be mailed fails before its PDF is needed.
            if invoice_recipient_error(mailable.invoice) is None
        }
        documents = stored_documents_find(keys=keys.values())
        documents |= stored_documents_render(
            invoices=[
                (key, loaded[pk].invoice, loaded[pk].company)
                for pk, key in keys.items()
                if key not in documents
            ]
        )
        return {
            pk: _Mailable(mailable.invoice, mailable.company, documents.get(keys.get(pk, "")))
            for pk, mailable in loaded.items()
        }

    def message_build(
        self,
        document: Any,
        *,
        config: SenderConfig,
        subject_template: str,
        body_template: str,
        message_id: str,
    ) -> EmailMessage:
        return invoice_email_build(
            invoice=document.invoice,
            config=config,
            subject_template=subject_template,
            body_template=body_template,
            message_id=message_id,
            company=document.company,
            # A caller may pass its own (invoice, company) object without a looked-up document.
            document=getattr(document, "document", None),
        )


def invoices_mass_mail_start(
    *,
    card: UserCard,
    invoice_ids: Collection[int] | None = None,
    all_unsent: bool = False,
    subject_template: str | None = None,
    body_template: str | None = None,
    created_by: str = "",
) -> MassMailJob:
    """Start a mass-mail job of the card's invoices: the given ones, or every unsent one."""
    return massmail_job_create(
        card=card,
        kind=KIND,
        document_ids=None if all_unsent else list(invoice_ids or ()),
        subject_template=subject_template,
        body_template=body_template,
        created_by=created_by,
    )


def invoice_documents_store(*, card: UserCard, invoice_ids: Collection[int]) -> int:
    """Render and store the PDFs of the card's invoices now (issuing them); return how many.

    A later send finds each stored document by its content key and renders nothing.
    """
    invoices = InvoiceDocuments().load(card=card, ids=invoice_ids)
    return sum(1 for mailable in invoices.values() if mailable.document is not None)
