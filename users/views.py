"""Views of the signed-in user's own card ("Personal → User")."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from users.forms import PersonalCardForm, effective_settings, m365_status, preset_buttons_render
from users.models import MailSender, UserCard


@sensitive_post_parameters("smtp_password")
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def personal_card(request: HttpRequest) -> HttpResponse:
    """Show and save the signed-in user's own card; no other card is reachable here."""
    # Only ever the signed-in user's own card: no id comes from the request.
    card: UserCard | None = getattr(request.user, "card", None)
    if card is None:
        return render(request, "users/personal_card_missing.html", status=404)
    # Read before binding: an invalid form leaves unsaved values on the instance.
    effective, m365 = effective_settings(card), m365_status(card)
    if request.method == "POST":
        form = PersonalCardForm(request.POST, instance=card)
        if form.is_valid():
            form.save()
            messages.success(request, "Your mail settings have been saved.")
            for warning in card.warnings():
                messages.warning(request, warning)
            return redirect("users:personal_card")
    else:
        form = PersonalCardForm(instance=card)
    return render(
        request,
        "users/personal_card.html",
        {
            "form": form,
            "card": card,
            "presets": preset_buttons_render(),
            "m365": m365,
            "m365_mode": MailSender.M365_OAUTH,
            "effective": effective,
        },
    )
