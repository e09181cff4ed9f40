"""Admin pages of invoices: list, search and filters; totals are computed, never typed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from invoices.documents import (
    DEFAULT_BODY_TEMPLATE,
    DEFAULT_SUBJECT_TEMPLATE,
    PLACEHOLDERS,
    InvoiceTemplateError,
    invoice_template_check,
)
from invoices.mailing import invoices_mass_mail_start
from invoices.models import Invoice, InvoiceAttachment, InvoiceLine
from invoices.services import invoice_totals_recompute
from massmail.conf import MassMailRefusedError


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


class MassMailTemplateForm(forms.Form):
    """The subject and body templates of a mass-mail job ("Mail edit" Yes)."""

    subject_template = forms.CharField(
        label="Subject", max_length=500, widget=forms.TextInput(attrs={"size": 80})
    )
    body_template = forms.CharField(
        label="Body", widget=forms.Textarea(attrs={"rows": 12, "cols": 80})
    )

    def _checked(self, name: str, field: str) -> str:
        value = self.cleaned_data[name]
        try:
            invoice_template_check(value, field=field)
        except InvoiceTemplateError as exc:
            raise forms.ValidationError(exc.user_message) from None
        return value

    def clean_subject_template(self) -> str:
        return self._checked("subject_template", "subject")

    def clean_body_template(self) -> str:
        return self._checked("body_template", "body")


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    actions = ("mass_mail",)
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

    def has_mass_mail_permission(self, request: HttpRequest) -> bool:
        """Mass mailing starts a job: it needs the permission to add mass-mail jobs."""
        return request.user.has_perm("massmail.add_massmailjob")

    @admin.action(description="Mass-mail selected invoices", permissions=["mass_mail"])
    def mass_mail(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        """Start one job per owner; with "Mail edit" Yes, edit the templates first."""
        by_owner: dict[Any, list[int]] = defaultdict(list)
        for invoice in queryset.select_related("owner").order_by("pk"):
            by_owner[invoice.owner].append(invoice.pk)
        subject = body = None
        if any(card.mail_edit for card in by_owner):
            if "apply" in request.POST:
                form = MassMailTemplateForm(request.POST)
            else:
                form = MassMailTemplateForm(
                    initial={
                        "subject_template": DEFAULT_SUBJECT_TEMPLATE,
                        "body_template": DEFAULT_BODY_TEMPLATE,
                    }
                )
            if not form.is_bound or not form.is_valid():
                context = {
                    **self.admin_site.each_context(request),
                    "title": "Edit the e-mail before mass-mailing",
                    "opts": self.model._meta,
                    "form": form,
                    "placeholders": PLACEHOLDERS.items(),
                    "invoices": queryset,
                    "count": queryset.count(),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                }
                return TemplateResponse(request, "massmail/admin_mass_mail_edit.html", context)
            subject = form.cleaned_data["subject_template"]
            body = form.cleaned_data["body_template"]
        for card, ids in by_owner.items():
            try:
                job = invoices_mass_mail_start(
                    card=card,
                    invoice_ids=ids,
                    subject_template=subject,
                    body_template=body,
                    created_by=request.user.get_username(),
                )
            except MassMailRefusedError as exc:
                self.message_user(
                    request, f"{card.code}: the job was refused. {exc.user_message}", messages.ERROR
                )
                continue
            link = reverse("massmail:job", args=[job.pk])
            self.message_user(
                request,
                format_html(
                    '{}: mass-mail job {} started for {} invoices. <a href="{}">Follow it</a>.',
                    card.code,
                    job.pk,
                    job.total,
                    link,
                ),
                messages.SUCCESS,
            )
        return None
