"""Admin pages of invoices: list, search and filters; totals are computed, never typed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import ForeignKey, QuerySet
from django.forms import BaseInlineFormSet, ModelChoiceField, ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from invoices.documents import (
    DEFAULT_BODY_TEMPLATE,
    DEFAULT_SUBJECT_TEMPLATE,
    PLACEHOLDERS,
)
from invoices.forms import TemplatesForm
from invoices.mailing import invoices_mass_mail_start
from invoices.models import Invoice, InvoiceAttachment, InvoiceLine
from invoices.services import invoice_totals_recompute
from massmail.conf import MassMailRefusedError


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ("position", "description", "quantity", "unit_price", "vat_rate", "net_amount")
    readonly_fields = ("net_amount",)

    @admin.display(description=_("net amount"))
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

    @admin.display(description=_("size (bytes)"))
    def size(self, attachment: InvoiceAttachment) -> int:
        return attachment.size


class OwnerCustomerSelect(AutocompleteSelect):
    """The customer autocomplete of an invoice that has an owner: that owner's customers only.

    The owner goes along in the autocomplete URL; CustomerAdmin.get_search_results reads it.
    """

    def __init__(self, *args: Any, owner_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner_id = owner_id

    def get_url(self) -> str:
        return f"{super().get_url()}?{urlencode({'owner': self.owner_id})}"


class InvoiceAdminForm(forms.ModelForm):
    """An invoice whose chosen customer fills in the name, address and language left empty."""

    class Meta:
        model = Invoice
        # The admin's fieldsets add the other fields.
        fields = ("customer", "customer_name", "customer_email", "language")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "customer_name" in self.fields:
            # Empty is fine when a customer is chosen: clean() fills it in.
            self.fields["customer_name"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        customer = cleaned.get("customer")
        if customer is not None:
            if not (cleaned.get("customer_email") or "").strip():
                cleaned["customer_email"] = customer.email
                cleaned["language"] = customer.language
            if not (cleaned.get("customer_name") or "").strip():
                cleaned["customer_name"] = customer.name
        if "customer_name" in self.fields and not (cleaned.get("customer_name") or "").strip():
            self.add_error(
                "customer_name", gettext("Enter the customer's name, or choose a customer.")
            )
        return cleaned


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    form = InvoiceAdminForm
    actions = ("mass_mail",)
    # Searches the customers by name, address and owner code (CustomerAdmin.search_fields);
    # the invoice refuses another owner's customer (Invoice.clean).
    autocomplete_fields = ("customer",)
    list_display = (
        "number",
        "owner",
        "customer_name",
        "customer_email",
        "language",
        "email_ok",
        "issue_date",
        "due_date",
        "total",
        "currency",
    )
    list_filter = ("owner", "language", "currency", "issue_date", "due_date")
    list_select_related = ("owner",)
    search_fields = ("number", "customer_name", "customer_email", "owner__code")
    date_hierarchy = "issue_date"
    readonly_fields = ("subtotal", "vat", "total", "created_at", "email_problem")
    inlines = (InvoiceLineInline, InvoiceAttachmentInline)
    fieldsets = (
        (None, {"fields": ("number", "owner", "issue_date", "due_date", "currency")}),
        (
            _("Customer"),
            {
                "fields": (
                    "customer",
                    "customer_name",
                    "customer_email",
                    "language",
                    "email_problem",
                )
            },
        ),
        (_("Totals"), {"fields": ("subtotal", "vat", "total")}),
        (None, {"fields": ("notes", "created_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invoice]:
        return super().get_queryset(request).select_related("owner")

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        # A saved invoice offers its owner's customers; a new one any (Invoice.clean checks).
        object_id = (
            request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        )
        if db_field.name == "customer" and object_id and str(object_id).isdigit():
            owner_id = (
                Invoice.objects.filter(pk=object_id).values_list("owner_id", flat=True).first()
            )
            if owner_id is not None:
                kwargs["widget"] = OwnerCustomerSelect(
                    db_field, self.admin_site, owner_id=owner_id, using=kwargs.get("using")
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("e-mail ok"), boolean=True)
    def email_ok(self, invoice: Invoice) -> bool:
        return invoice.customer_email_problem() is None

    @admin.display(description=_("e-mail problem"))
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

    @admin.action(description=_("Mass-mail selected invoices"), permissions=["mass_mail"])
    def mass_mail(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        """Start one job per owner; with "Mail edit" Yes, edit the templates first."""
        by_owner: dict[Any, list[int]] = defaultdict(list)
        for invoice in queryset.select_related("owner").order_by("pk"):
            by_owner[invoice.owner].append(invoice.pk)
        subject = body = None
        if any(card.mail_edit for card in by_owner):
            if "apply" in request.POST:
                form = TemplatesForm(request.POST)
            else:
                # The defaults in the user's language; left as they are, each invoice gets them
                # in its customer's language (see _template_typed).
                form = TemplatesForm(
                    initial={
                        "subject_template": gettext(DEFAULT_SUBJECT_TEMPLATE),
                        "body_template": gettext(DEFAULT_BODY_TEMPLATE),
                    }
                )
            if not form.is_bound or not form.is_valid():
                context = {
                    **self.admin_site.each_context(request),
                    "title": gettext("Edit the e-mail before mass-mailing"),
                    "opts": self.model._meta,
                    "form": form,
                    "placeholders": PLACEHOLDERS.items(),
                    "invoices": queryset,
                    "count": queryset.count(),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                }
                return TemplateResponse(request, "massmail/admin_mass_mail_edit.html", context)
            subject = _template_typed(
                form.cleaned_data["subject_template"], DEFAULT_SUBJECT_TEMPLATE
            )
            body = _template_typed(form.cleaned_data["body_template"], DEFAULT_BODY_TEMPLATE)
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
                    request,
                    gettext("{code}: the job was refused. {reason}").format(
                        code=card.code, reason=exc.user_message
                    ),
                    messages.ERROR,
                )
                continue
            link = reverse("massmail:job", args=[job.pk])
            self.message_user(
                request,
                format_html(
                    ngettext(
                        "{code}: mass-mail job {job} started for {count} invoice. "
                        '<a href="{link}">Follow it</a>.',
                        "{code}: mass-mail job {job} started for {count} invoices. "
                        '<a href="{link}">Follow it</a>.',
                        job.total,
                    ),
                    code=card.code,
                    job=job.pk,
                    count=job.total,
                    link=link,
                ),
                messages.SUCCESS,
            )
        return None


def _template_typed(typed: str, default: str) -> str | None:
    """Return the template the user typed, or None when it is the default (in any language).

    None lets each invoice's e-mail use the default in its customer's language; a template
    the user changed is used as typed for every invoice.
    """
    if typed.replace("\r\n", "\n") in (default, gettext(default)):
        return None
    return typed
