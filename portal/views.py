"""Views of the signed-in user's own card ("Personal → User") and its "Send test e-mail"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from mailer.causes import MailCause
from mailer.config import CardSettings
from mailer.services import MailTestRateLimitedError, MailTestResult, mail_test_send
from mailer.transport import TranscriptStep
from portal.panels import (
    effective_settings,
    effective_settings_of,
    global_card_notice_render,
    m365_status,
    mode_explanations_render,
    preset_buttons_render,
)
from users.forms import PersonalCardForm
from users.models import MailSender, UserCard
from users.providers import is_gmail_host
from users.validation import has_control_characters

#: test_mail.js asks for the panel alone (to show the result in place) with this header.
FRAGMENT_HEADER = "X-Test-Mail-Fragment"
TEST_MAIL_PREFIX = "test_mail"
#: The id of the Mail sender options' explanations (portal/_mode_help.html).
MODE_HELP_ID = "mail-sender-explained"


@sensitive_post_parameters("smtp_password")
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def personal_card(request: HttpRequest) -> HttpResponse:
    """Show and save the signed-in user's own card; no other card is reachable here."""
    # Only ever the signed-in user's own card: no id comes from the request.
    card: UserCard | None = getattr(request.user, "card", None)
    if card is None:
        return render(request, "portal/personal_card_missing.html", status=404)
    # Read before binding: an invalid form leaves unsaved values on the instance.
    effective, m365 = effective_settings(card), m365_status(card)
    mode_help = mode_explanations_render(card)
    global_notice = global_card_notice_render(card)
    if request.method == "POST":
        form = PersonalCardForm(request.POST, instance=card)
        if form.is_valid():
            form.save()
            messages.success(request, gettext("Your mail settings have been saved."))
            for warning in [*card.server_change_notices(), *card.warnings()]:
                messages.warning(request, warning)
            return redirect("personal:card")
    else:
        form = PersonalCardForm(instance=card)
    form.fields["mail_sender"].widget.attrs["aria-describedby"] = MODE_HELP_ID
    return render(
        request,
        "portal/personal_card.html",
        {
            "form": form,
            "card": card,
            "presets": preset_buttons_render(),
            "m365": m365,
            "m365_inherited": m365["label"] if m365["state"] == "inherited" else "",
            "m365_mode": MailSender.M365_OAUTH,
            "effective": effective,
            "mode_help": mode_help,
            "global_notice": global_notice,
            "outbound_ips": settings.PLATFORM_OUTBOUND_IPS,
            **mail_test_context(card=card, action=reverse("personal:test_mail")),
        },
    )


@sensitive_post_parameters("smtp_password")
@login_required
@require_POST
def personal_card_preview(request: HttpRequest) -> HttpResponse:
    """Return the effective-settings panel of the posted, unsaved values of the own card.

    Nothing is saved and no secret comes back: a password only shows as "set" or "not set".
    """
    # Only ever the signed-in user's own card: no id comes from the request.
    card: UserCard | None = getattr(request.user, "card", None)
    if card is None:
        return JsonResponse({"error": gettext("Your account has no user card.")}, status=404)
    # A separate copy takes the posted values: the form writes them onto its instance.
    unsaved = UserCard.objects.select_related("m365_connection").get(pk=card.pk)
    form = PersonalCardForm(request.POST, instance=unsaved)
    form.is_valid()  # the valid fields reach the copy; the errors show when saving
    effective = effective_settings_of(CardSettings.from_card(unsaved))
    html = render_to_string(
        "portal/_effective_settings.html",
        {"effective": effective, "preview": True},
        request=request,
    )
    return JsonResponse({"html": html, "ready": effective["ready"], "valid": not form.errors})


class RecipientField(forms.EmailField):
    """An e-mail address on one line: CR/LF is refused before the usual stripping hides it."""

    def to_python(self, value: Any) -> str | None:
        # NUL is left to CharField's ProhibitNullCharactersValidator, whose message names it.
        if isinstance(value, str) and has_control_characters(value, nul=False):
            raise ValidationError(
                _("The recipient address must be on one line (no line breaks)."), code="line_break"
            )
        return super().to_python(value)


class MailTestForm(forms.Form):
    """The recipient and the dry-run switch of "Send test e-mail"; no secret is ever posted."""

    to = RecipientField(label=_("Recipient"), max_length=254)
    dry_run = forms.BooleanField(
        label=_("Dry run (stop before sending)"),
        required=False,
        help_text=_("Connect, sign in and check the addresses, then RSET: nothing is sent."),
    )


@dataclass
class MailTestOutcome:
    """What the result panel shows: the transcript, and the explained error or success line."""

    to: str
    dry_run: bool
    ok: bool
    steps: list[TranscriptStep] = field(default_factory=list)
    message: str = ""
    hint: str = ""


def mail_test_context(
    *, card: UserCard, action: str, form: MailTestForm | None = None
) -> dict[str, Any]:
    """Return the context of the "Send test e-mail" panel (portal/_test_mail.html)."""
    if form is None:
        form = MailTestForm(prefix=TEST_MAIL_PREFIX, initial={"to": card.email})
    return {"test_mail_form": form, "test_mail_action": action, "test_mail_card": card}


def mail_test_handle(
    request: HttpRequest, *, card: UserCard, action: str
) -> tuple[dict[str, Any], int]:
    """Validate the posted recipient, run the test through the saved card, return context."""
    form = MailTestForm(request.POST, prefix=TEST_MAIL_PREFIX)
    context = mail_test_context(card=card, action=action, form=form)
    if not form.is_valid():
        return context, 400
    to, dry_run = form.cleaned_data["to"], form.cleaned_data["dry_run"]
    try:
        result = mail_test_send(card=card, to=to, dry_run=dry_run)
    except MailTestRateLimitedError as exc:
        context["test_mail"] = MailTestOutcome(
            to=to, dry_run=dry_run, ok=False, message=exc.user_message
        )
        return context, 429
    if result.error is not None:
        message = result.error.user_message
    elif dry_run:
        message = gettext(
            "The server accepted the dry run for %(to)s: the test e-mail was not sent."
        ) % {"to": to}
    else:
        message = gettext("The server accepted the test e-mail for %(to)s.") % {"to": to}
    context["test_mail"] = MailTestOutcome(
        to=to,
        dry_run=dry_run,
        ok=result.ok,
        steps=result.transcript,
        message=message,
        hint=mail_test_hint(result),
    )
    return context, 200


#: Failures a server that allow-lists by IP address gives (the platform's IPs are the fix).
IP_ALLOW_LIST_CAUSES = (MailCause.CONNECTION_REFUSED, MailCause.TIMEOUT)


def mail_test_hint(result: MailTestResult) -> str:
    """Return the part of the fix a failed test repeats from the card page's guidance."""
    error, config = result.error, result.config
    if error is None or config is None or config.uses_platform_relay:
        return ""
    if error.cause in IP_ALLOW_LIST_CAUSES and settings.PLATFORM_OUTBOUND_IPS:
        return gettext(
            "If your mail server allows connections only from listed IP addresses, allow these "
            "addresses of the platform: %(ips)s"
        ) % {"ips": ", ".join(settings.PLATFORM_OUTBOUND_IPS)}
    if error.cause == MailCause.AUTH_REJECTED and is_gmail_host(config.host):
        return gettext(
            "Gmail accepts only an app password: turn on 2-Step Verification, create an app "
            "password (Google account → Security → App passwords) and enter its 16 characters "
            "as Password."
        )
    return ""


def mail_test_respond(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render the full page, or only the panel (form and result) when test_mail.js asks."""
    if request.headers.get(FRAGMENT_HEADER):
        html = render_to_string("portal/_test_mail.html", context, request=request)
        response = HttpResponse(html, status=status)
    else:
        response = render(request, template, context, status=status)
    patch_vary_headers(response, [FRAGMENT_HEADER])
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def personal_test_mail(request: HttpRequest) -> HttpResponse:
    """Send a test e-mail (or a dry run) through the signed-in user's own saved card."""
    # Only ever the signed-in user's own card: no id or code comes from the request.
    card: UserCard | None = getattr(request.user, "card", None)
    if card is None:
        return render(request, "portal/personal_card_missing.html", status=404)
    action = reverse("personal:test_mail")
    if request.method == "POST":
        context, status = mail_test_handle(request, card=card, action=action)
    else:
        context, status = mail_test_context(card=card, action=action), 200
    return mail_test_respond(request, "portal/test_mail.html", context, status)
