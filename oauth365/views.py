"""Views of the Microsoft 365 sign-in: start, callback, status, disconnect, use this account."""

from __future__ import annotations

from dataclasses import asdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from oauth365.exceptions import M365AuthError, NotAuthenticatedError
from oauth365.flows import FLOW_SESSION_KEY, m365_flow_start
from oauth365.models import M365Connection
from oauth365.services import (
    CallbackOutcome,
    m365_account_warning,
    m365_callback_handle,
    m365_disconnect,
    m365_use_account,
)
from users.models import UserCard

#: The callback's result, kept for the "no opener" path (see `done`) and for the polling page.
OUTCOME_SESSION_KEY = "oauth365.callback_outcome"
DEFAULT_NEXT = "/personal/user/"
REPOST_MARKER = "oauth365_repost"


def _next_url(request: HttpRequest, default: str = DEFAULT_NEXT) -> str:
    """Return `next` when it is a path of this site, else the default."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts=None, require_https=request.is_secure()
    ):
        return candidate
    return default


def _own_card(request: HttpRequest) -> UserCard | None:
    if not request.user.is_authenticated:
        return None
    return UserCard.objects.filter(user=request.user).first()


def _popup_safe(response: HttpResponse) -> HttpResponse:
    # Pages shown in the popup must not cut it off from its opener (Django's default COOP
    # "same-origin" would); SecurityMiddleware only sets the header when it is absent.
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    return response


def _outcome_response(request: HttpRequest, outcome: CallbackOutcome) -> HttpResponse:
    next_url = outcome.next_url or DEFAULT_NEXT
    if outcome.popup is False:
        # Started as a full-page redirect (popup blocked): back to the card with a message.
        _outcome_messages(request, outcome)
        return _popup_safe(redirect(next_url))
    request.session[OUTCOME_SESSION_KEY] = asdict(outcome)
    context = {
        "outcome": outcome,
        "result": {
            "type": "oauth365:result",
            "ok": outcome.ok,
            "message": outcome.message,
            "warning": outcome.warning,
        },
        "done_url": reverse("oauth365:done"),
        "next_url": next_url,
    }
    return _popup_safe(render(request, "oauth365/callback.html", context))


def _outcome_messages(request: HttpRequest, outcome: CallbackOutcome) -> None:
    level = messages.SUCCESS if outcome.ok else messages.ERROR
    messages.add_message(request, level, outcome.message)
    if outcome.warning:
        messages.warning(request, outcome.warning)


@never_cache
@login_required
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    """Start the sign-in for the user's own card and send the browser to Microsoft."""
    next_url = _next_url(request)
    popup = request.POST.get("popup") == "1"
    # The card page sends this while the card is saved in another mode (see _connect.html).
    switch_mode = request.POST.get("switch_mode") == "1"
    request.session.pop(OUTCOME_SESSION_KEY, None)
    card = _own_card(request)
    if card is None:
        outcome = CallbackOutcome(
            ok=False,
            message=gettext(
                "Your account has no user card: an administrator must create it first."
            ),
            next_url=next_url,
            popup=popup,
        )
        return _outcome_response(request, outcome)
    try:
        auth_uri = m365_flow_start(
            session=request.session,
            card=card,
            next_url=next_url,
            popup=popup,
            switch_mode=switch_mode,
        )
    except (M365AuthError, ImproperlyConfigured) as exc:
        message = exc.user_message if isinstance(exc, M365AuthError) else str(exc)
        outcome = CallbackOutcome(ok=False, message=message, next_url=next_url, popup=popup)
        return _outcome_response(request, outcome)
    return _popup_safe(redirect(auth_uri))


@never_cache
@csrf_exempt  # the identity provider posts here (form_post); the flow's state is the check
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest) -> HttpResponse:
    """Complete the sign-in with Microsoft's answer (query string or form_post)."""
    params = request.POST if request.method == "POST" else request.GET
    if (
        request.method == "POST"
        and FLOW_SESSION_KEY not in request.session
        and REPOST_MARKER not in params
    ):
        # A cross-site form_post carries no SameSite=Lax session cookie: post the same fields
        # again from this origin, which does.
        fields = [(key, value) for key, value in params.items() if key != REPOST_MARKER]
        context = {"fields": fields, "marker": REPOST_MARKER}
        return _popup_safe(render(request, "oauth365/callback_repost.html", context))
    auth_response = {key: str(value) for key, value in params.items() if key != REPOST_MARKER}
    outcome = m365_callback_handle(
        session=request.session, user=request.user, auth_response=auth_response
    )
    return _outcome_response(request, outcome)


@never_cache
@require_GET
def done(request: HttpRequest) -> HttpResponse:
    """Show the callback's result on the card (the popup had no opener to tell)."""
    stored = request.session.pop(OUTCOME_SESSION_KEY, None)
    if not isinstance(stored, dict):
        return redirect(DEFAULT_NEXT)
    outcome = CallbackOutcome(**stored)
    _outcome_messages(request, outcome)
    return redirect(outcome.next_url or DEFAULT_NEXT)


@never_cache
@login_required
@require_GET
def status(request: HttpRequest) -> JsonResponse:
    """Return the Microsoft 365 status of the user's own card (the page refreshes from it)."""
    card = _own_card(request)
    connection = M365Connection.objects.filter(card=card).first() if card else None
    outcome = request.session.get(OUTCOME_SESSION_KEY)
    return JsonResponse(
        {
            "authenticated": bool(connection and connection.usable),
            "account": connection.account if connection else "",
            "authenticated_at": (
                connection.authenticated_at.isoformat()
                if connection and connection.authenticated_at
                else None
            ),
            "status": connection.status if connection else "",
            "warning": m365_account_warning(card=card, connection=connection) if card else "",
            "outcome": outcome if isinstance(outcome, dict) else None,
            "html": render_to_string(
                "oauth365/_status.html",
                {"card": card, "oauth365_next": _next_url(request)},
                request=request,
            ),
        }
    )


@login_required
@require_POST
def disconnect(request: HttpRequest, card_id: int | None = None) -> HttpResponse:
    """Delete the token cache of the user's own card, or (staff) of any card."""
    if card_id is None:
        card = _own_card(request)
        next_url = _next_url(request)
    else:
        if not request.user.has_perm("oauth365.delete_m365connection"):
            raise PermissionDenied(
                gettext(
                    "Disconnecting another user's card needs the permission to delete Microsoft "
                    "365 connections."
                )
            )
        card = get_object_or_404(UserCard, pk=card_id)
        next_url = _next_url(request, default=_admin_card_url(card))
    if card is None:
        messages.error(request, gettext("Your account has no user card."))
    elif m365_disconnect(card=card):
        text = gettext("Microsoft 365 was disconnected from card {code}.")
        messages.success(request, text.format(code=card.code))
    else:
        text = gettext("Card {code} was not connected to Microsoft 365.")
        messages.info(request, text.format(code=card.code))
    return redirect(next_url)


@login_required
@require_POST
def use_account(request: HttpRequest) -> HttpResponse:
    """Set the own card's Username to the account signed in to Microsoft 365."""
    card = _own_card(request)
    if card is None:
        messages.error(request, gettext("Your account has no user card."))
        return redirect(_next_url(request))
    try:
        account = m365_use_account(card=card)
    except NotAuthenticatedError as exc:
        messages.error(request, exc.user_message)
    else:
        text = gettext("The card's Username is now {account}.")
        messages.success(request, text.format(account=account))
    return redirect(_next_url(request))


def _admin_card_url(card: UserCard) -> str:
    try:
        return reverse("admin:users_usercard_change", args=[card.pk])
    except NoReverseMatch:
        return "/admin/"
