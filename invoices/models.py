"""Invoices, their lines and files: the documents that are mailed to customers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from events.errors import Param
from invoices.causes import InvoiceCause
from mailer.messages import attachment_base64
from users.models import Language, UserCard

CENT = Decimal("0.01")
DEFAULT_VAT_RATE = Decimal("22")


def money_round(amount: Decimal) -> Decimal:
    """Round an amount to cents, halves away from zero (the accounting convention)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    vat: Decimal
    total: Decimal


def totals_compute(lines: Iterable[tuple[Decimal, Decimal, Decimal]]) -> Totals:
    """Return the totals of (quantity, unit price, VAT rate) lines.

    Each line's net amount is rounded to cents; VAT is computed per rate over the sum of the nets
    at that rate and rounded once per rate (EU invoices show VAT per rate, not per line).
    """
    nets_by_rate: dict[Decimal, Decimal] = {}
    for quantity, unit_price, vat_rate in lines:
        net = money_round(quantity * unit_price)
        nets_by_rate[vat_rate] = nets_by_rate.get(vat_rate, Decimal(0)) + net
    subtotal = money_round(sum(nets_by_rate.values(), Decimal(0)))
    vat = money_round(
        sum(
            (money_round(net * rate / 100) for rate, net in nets_by_rate.items()),
            Decimal(0),
        )
    )
    return Totals(subtotal=subtotal, vat=vat, total=subtotal + vat)


class Invoice(models.Model):
    """A sales invoice of one user (the owner, whose card's mail settings send it)."""

    number = models.CharField(_("number"), max_length=40, unique=True)
    owner = models.ForeignKey(
        UserCard,
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("owner"),
        help_text=_("The user whose mail settings send this invoice."),
    )
    # PROTECT: a customer whom invoices name stays (its page refuses the delete and says why),
    # so an invoice never silently loses its customer. The name, address and language below
    # are the invoice's own copy, filled from the customer when chosen: what is mailed.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name=_("customer"),
        help_text=_(
            "Choosing a customer fills in the name, e-mail address and language left empty."
        ),
    )
    customer_name = models.CharField(_("customer name"), max_length=200)
    # Deliberately not an EmailField: a bad address must reach the mass-mail job, which fails
    # that invoice alone with the cause (customer_email_problem) instead of refusing the row.
    customer_email = models.CharField(_("customer e-mail"), max_length=254, blank=True)
    #: The customer's language: the invoice's e-mail and PDF go out in it (SPEC "Languages").
    language = models.CharField(
        _("language"),
        max_length=5,
        choices=Language.choices,
        default=Language.ENGLISH,
        help_text=_("The customer's language: the invoice's e-mail and PDF are written in it."),
    )
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    notes = models.TextField(_("notes"), blank=True)
    subtotal = models.DecimalField(
        _("subtotal"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    vat = models.DecimalField(_("VAT"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(
        _("total"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering: ClassVar = ["-issue_date", "-number"]
        indexes: ClassVar = [models.Index(fields=["owner", "-issue_date"])]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(due_date__gte=models.F("issue_date")),
                name="invoices_invoice_due_after_issue",
                violation_error_message=_("The due date cannot be before the issue date."),
            ),
            models.CheckConstraint(
                condition=models.Q(total=models.F("subtotal") + models.F("vat")),
                name="invoices_invoice_total_consistent",
                violation_error_message=_("The total must equal the subtotal plus VAT."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.customer_name}"

    def clean(self) -> None:
        """Refuse a customer of another user: an invoice names its own owner's customer."""
        super().clean()
        if self.customer_id is None or self.owner_id is None:
            return
        if self.customer is not None and self.customer.owner_id != self.owner_id:
            raise ValidationError(
                {"customer": _("This customer belongs to another user; choose one of the owner's.")}
            )

    def customer_email_cause(self) -> tuple[InvoiceCause, dict[str, Param]] | None:
        """Return why the customer's e-mail address is unusable and its parameters, or None."""
        address = self.customer_email.strip()
        if not address:
            return InvoiceCause.RECIPIENT_MISSING, {"number": self.number}
        if any(char in address for char in "\r\n\x00"):
            return InvoiceCause.RECIPIENT_LINE_BREAK, {"number": self.number}
        if any(separator in address for separator in ",; "):
            return InvoiceCause.RECIPIENT_SEVERAL, {"number": self.number, "address": address}
        try:
            validate_email(address)
        except ValidationError:
            return InvoiceCause.RECIPIENT_INVALID, {"number": self.number, "address": address}
        return None

    def customer_email_problem(self) -> str | None:
        """Return what is wrong with the customer's e-mail address, or None when it is usable."""
        problem = self.customer_email_cause()
        return None if problem is None else problem[0].render(problem[1])

    def totals_from_lines(self) -> Totals:
        """Return the totals computed from the invoice's lines (uses a prefetch when present)."""
        return totals_compute(
            (line.quantity, line.unit_price, line.vat_rate) for line in self.lines.all()
        )


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=3, default=Decimal("1")
    )
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=4)
    vat_rate = models.DecimalField(
        _("VAT rate (%)"), max_digits=5, decimal_places=2, default=DEFAULT_VAT_RATE
    )

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering: ClassVar = ["invoice", "position", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(vat_rate__gte=0, vat_rate__lte=100),
                name="invoices_invoiceline_vat_rate_range",
                violation_error_message=_("The VAT rate must be between 0 and 100 %."),
            ),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def net_amount(self) -> Decimal:
        return money_round(self.quantity * self.unit_price)


class InvoiceAttachment(models.Model):
    """A file of the invoice itself (a delivery note, a timesheet), mailed along on request."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("invoice")
    )
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(
        _("content type"), max_length=100, default="application/octet-stream"
    )
    data = models.BinaryField(_("data"))
    # The data as the message's base64 body lines (attachment_base64, 76 characters, CRLF):
    # encoded once when the data is saved, copied verbatim by every message. A cache that no
    # page shows: no label. encoded_size is len(data) when the lines were made (None: none);
    # a batch uses the lines only while it still equals the data's length (QuerySet.update,
    # bulk_update and bulk_create skip save()), and on PostgreSQL a trigger forgets them when
    # an UPDATE changes the data without them (migration 0006): no stale file is mailed.
    encoded_lines = models.TextField(blank=True, default="", editable=False)
    encoded_size = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("invoice attachment")
        verbose_name_plural = _("invoice attachments")
        ordering: ClassVar = ["invoice", "pk"]

    def __str__(self) -> str:
        return self.filename

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, encoding the data's lines again when the data is saved (not when deferred)."""
        update_fields = kwargs.get("update_fields")
        if "data" not in self.get_deferred_fields() and (
            update_fields is None or "data" in update_fields
        ):
            self.lines_fill()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "encoded_lines", "encoded_size"}
        super().save(*args, **kwargs)

    def lines_fill(self) -> None:
        """Encode the data into encoded_lines (the base64 lines a message carries)."""
        data = bytes(self.data)
        self.encoded_lines = attachment_base64(data, linesep="\r\n")
        self.encoded_size = len(data)

    @property
    def size(self) -> int:
        return len(self.data)


class StoredDocument(models.Model):
    """An invoice's PDF, rendered once and kept under the hash of everything it shows.

    The key (invoices.pdf.invoice_pdf_key) covers the invoice's text, lines, totals, seller,
    language, font and renderer version: a changed invoice gets a new key and so a new
    document, and every send of an unchanged one reuses the bytes and their base64 lines.
    """

    # A cache that no page or admin shows: no field carries a label for people to read.
    key = models.CharField(max_length=64, unique=True)
    pdf = models.BinaryField()
    #: The PDF as a MIME part's base64 body lines, encoded once for every message.
    pdf_base64 = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
