"""The signed-in user's own letters at /personal/letters/: customers, write, mail to all."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from customers.models import Customer
from letters.forms import LetterForm
from letters.mailing import KIND, PLACEHOLDERS, letters_mass_mail_start
from massmail.conf import MassMailRefusedError
from massmail.models import MassMailJob
from users.pages import request_card_get


@login_required
@require_http_methods(["GET", "POST"])
def letter_page(request: HttpRequest) -> HttpResponse:
    """List the user's customers and earlier letters; POST mails the letter to every customer."""
    card = request_card_get(request)
    form = LetterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = letters_mass_mail_start(
                card=card,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                created_by=request.user.get_username(),
            )
        except MassMailRefusedError as exc:
            messages.error(
                request,
                gettext("The mass mailing was refused. {reason}").format(reason=exc.message),
            )
        else:
            return redirect("massmail:job", job_id=job.pk)
    context = {
        "form": form,
        "customers": Customer.objects.filter(owner=card),
        "placeholders": PLACEHOLDERS.items(),
        "letters": MassMailJob.objects.filter(owner=card, document_kind=KIND).order_by("-pk")[:20],
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, "letters/letter_page.html", context, status=status)
