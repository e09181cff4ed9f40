"""The signed-in user's own invoices at /personal/invoices/: their mail status, send, mass-mail."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from invoices.documents import DEFAULT_BODY_TEMPLATE, DEFAULT_SUBJECT_TEMPLATE, PLACEHOLDERS
from invoices.forms import InvoiceDraftForm, TemplatesForm, template_typed
from invoices.mailing import invoices_mass_mail_start
from invoices.models import Invoice
from invoices.sending import invoice_draft, invoice_own_get, invoice_send_now, invoices_with_mail
from massmail.conf import MassMailRefusedError
from massmail.models import MailStatus
from users.pages import request_card_get

#: The checkboxes of the list: one per selected invoice.
SELECTED = "invoice"


@login_required
@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    """List the user's own invoices with each one's latest mail status and its cause."""
    card = request_card_get(request)
    rows = invoices_with_mail(card=card)
    counts = {status: 0 for status in MailStatus.values}
    for row in rows:
        if row.mail is not None:
            counts[row.mail.status] += 1
    context = {
        "card": card,
        "rows": rows,
        "selected_name": SELECTED,
        "sent": counts[MailStatus.SENT],
        "failed": counts[MailStatus.FAILED] + counts[MailStatus.BOUNCED],
    }
    return render(request, "invoices/invoice_list.html", context)


@login_required
@require_GET
def invoice_draft_edit(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Show one invoice's e-mail as an editable draft (recipient, subject, body, attachments)."""
    card = request_card_get(request)
    invoice = invoice_own_get(card=card, invoice_id=invoice_id)
    draft = invoice_draft(invoice=invoice)
    form = InvoiceDraftForm(
        initial={
            "recipient": draft.recipient,
            "subject_template": draft.subject,
            "body_template": draft.body,
        }
    )
    return _draft_render(request, invoice=invoice, form=form)


def _draft_render(
    request: HttpRequest, *, invoice: Invoice, form: InvoiceDraftForm, status: int = 200
) -> HttpResponse:
    context = {
        "invoice": invoice,
        "form": form,
        "attachments": invoice_draft(invoice=invoice).attachments,
        "placeholders": PLACEHOLDERS.items(),
    }
    return render(request, "invoices/invoice_draft.html", context, status=status)


@login_required
@require_POST
def invoice_send(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Send one invoice now: as drafted ("Mail edit" Yes) or as the defaults make it (No)."""
    card = request_card_get(request)
    invoice = invoice_own_get(card=card, invoice_id=invoice_id)
    edited: dict[str, str | None] = {}
    if card.mail_edit:
        form = InvoiceDraftForm(request.POST)
        if not form.is_valid():
            return _draft_render(request, invoice=invoice, form=form, status=400)
        edited = {
            "recipient": form.cleaned_data["recipient"],
            "subject_template": template_typed(
                form.cleaned_data["subject_template"], DEFAULT_SUBJECT_TEMPLATE
            ),
            "body_template": template_typed(
                form.cleaned_data["body_template"], DEFAULT_BODY_TEMPLATE
            ),
        }
    mail = invoice_send_now(
        card=card, invoice_id=invoice.pk, created_by=request.user.get_username(), **edited
    )
    if mail.status == MailStatus.SENT:
        messages.success(
            request,
            gettext("Invoice {number} was sent to {address}.").format(
                number=invoice.number, address=mail.recipient
            ),
        )
    else:
        messages.error(
            request,
            gettext("Invoice {number} was not sent. {cause}").format(
                number=invoice.number, cause=mail.text
            ),
        )
    return redirect("invoices:list")


@login_required
@require_POST
def invoices_mass_mail(request: HttpRequest) -> HttpResponse:
    """Start one job of the selected invoices; with "Mail edit" Yes, edit the templates first."""
    card = request_card_get(request)
    try:
        ids = sorted({int(value) for value in request.POST.getlist(SELECTED)})
    except ValueError:
        raise Http404(gettext("No such invoice.")) from None
    if not ids:
        messages.warning(request, gettext("Select at least one invoice to mass-mail."))
        return redirect("invoices:list")
    own = set(Invoice.objects.filter(owner=card, pk__in=ids).values_list("pk", flat=True))
    if own != set(ids):
        raise Http404(gettext("No such invoice."))
    subject = body = None
    if card.mail_edit:
        if "apply" in request.POST:
            form = TemplatesForm(request.POST)
        else:
            form = TemplatesForm(
                initial={
                    "subject_template": gettext(DEFAULT_SUBJECT_TEMPLATE),
                    "body_template": gettext(DEFAULT_BODY_TEMPLATE),
                }
            )
        if not form.is_bound or not form.is_valid():
            context = {
                "form": form,
                "ids": ids,
                "selected_name": SELECTED,
                "placeholders": PLACEHOLDERS.items(),
            }
            return render(
                request,
                "invoices/mass_mail_edit.html",
                context,
                status=400 if form.is_bound else 200,
            )
        subject = template_typed(form.cleaned_data["subject_template"], DEFAULT_SUBJECT_TEMPLATE)
        body = template_typed(form.cleaned_data["body_template"], DEFAULT_BODY_TEMPLATE)
    try:
        job = invoices_mass_mail_start(
            card=card,
            invoice_ids=ids,
            subject_template=subject,
            body_template=body,
            created_by=request.user.get_username(),
        )
    except MassMailRefusedError as exc:
        messages.error(
            request, gettext("The mass mailing was refused. {reason}").format(reason=exc.message)
        )
        return redirect("invoices:list")
    return redirect("massmail:job", job_id=job.pk)
