"""Admin pages of invoices: list, search and filters; totals are computed, never typed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from invoices.models import Invoice, InvoiceAttachment, InvoiceLine
from invoices.services import invoice_totals_recompute


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ("position", "description", "quantity", "unit_price", "vat_rate", "net_amount")
    readonly_fields = ("net_amount",)

    @admin.display(description="net amount")
    def net_amount(self, line: InvoiceLine) -> str:
        return str(line.net_amount) if line.pk else "—"


class InvoiceAttachmentInline(admin.TabularInline):
    model = InvoiceAttachment
    extra = 0
    fields = ("filename", "content_type", "size")
    readonly_fields = ("filename", "content_type", "size")
    can_delete = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="size (bytes)")
    def size(self, attachment: InvoiceAttachment) -> int:
        return attachment.size


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "owner",
        "customer_name",
        "customer_email",
        "email_ok",
        "issue_date",
        "due_date",
        "total",
        "currency",
    )
    list_filter = ("owner", "currency", "issue_date", "due_date")
    list_select_related = ("owner",)
    search_fields = ("number", "customer_name", "customer_email", "owner__code")
    date_hierarchy = "issue_date"
    readonly_fields = ("subtotal", "vat", "total", "created_at", "email_problem")
    inlines = (InvoiceLineInline, InvoiceAttachmentInline)
    fieldsets = (
        (None, {"fields": ("number", "owner", "issue_date", "due_date", "currency")}),
        ("Customer", {"fields": ("customer_name", "customer_email", "email_problem")}),
        ("Totals", {"fields": ("subtotal", "vat", "total")}),
        (None, {"fields": ("notes", "created_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invoice]:
        return super().get_queryset(request).select_related("owner")

    @admin.display(description="e-mail ok", boolean=True)
    def email_ok(self, invoice: Invoice) -> bool:
        return invoice.customer_email_problem() is None

    @admin.display(description="e-mail problem")
    def email_problem(self, invoice: Invoice) -> str:
        return invoice.customer_email_problem() or "—"

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: list[BaseInlineFormSet], change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        # The lines are saved only now: the stored totals follow them.
        invoice_totals_recompute(invoice=form.instance)
