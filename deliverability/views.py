"""Pages: the DNS diagnostics panel of a card, a user's own events and all events (staff)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from deliverability.diagnostics import card_diagnostics_get
from deliverability.selectors import (
    card_event_list,
    event_filter_choices,
    event_list_filtered,
)
from events.models import EventKind
from users.models import UserCard

EVENTS_PER_PAGE = 100
OWN_EVENTS_LIMIT = 200


View = Callable[..., HttpResponse]


def permission_needed(perm: str) -> Callable[[View], View]:
    """Let in only signed-in users who hold the model permission; others signed in get 403."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied(gettext("You do not have permission to see this page."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _own_card(request: HttpRequest) -> UserCard:
    card: UserCard | None = getattr(request.user, "card", None)
    if card is None:
        raise Http404(gettext("Your account has no user card."))
    return card


def _diagnostics_render(request: HttpRequest, card: UserCard) -> HttpResponse:
    error = ""
    try:
        diagnostics = card_diagnostics_get(card=card)
    except ImproperlyConfigured as exc:
        diagnostics, error = None, str(exc)
    context = {
        "card": card,
        "diagnostics": diagnostics,
        "error": error,
        "show_platform_ips": request.user.is_staff,
    }
    # ?fragment=1: the panel alone, for a card page that loads it after showing the form.
    template = "diagnostics.html" if "fragment" not in request.GET else "_diagnostics.html"
    return render(request, f"deliverability/{template}", context)


@login_required
@require_safe
def diagnostics_own(request: HttpRequest) -> HttpResponse:
    """Show the DNS diagnostics of the signed-in user's own card."""
    return _diagnostics_render(request, _own_card(request))


@permission_needed("users.view_usercard")
@require_safe
def diagnostics_card(request: HttpRequest, code: str) -> HttpResponse:
    """Show the DNS diagnostics of any card (administrators)."""
    return _diagnostics_render(request, get_object_or_404(UserCard, code__iexact=code))


@login_required
@require_safe
def events_own(request: HttpRequest) -> HttpResponse:
    """Show the signed-in user's own events, newest first."""
    card = _own_card(request)
    events = card_event_list(card=card)[:OWN_EVENTS_LIMIT]
    return render(request, "deliverability/events.html", {"card": card, "events": events})


@permission_needed("events.view_mailevent")
@require_safe
def events_all(request: HttpRequest) -> HttpResponse:
    """Show every event, filtered by user, cause, kind and mass-mail job (administrators)."""
    job_text = request.GET.get("job", "").strip()
    user_code = request.GET.get("user", "").strip()
    cause = request.GET.get("cause", "").strip()
    kind = request.GET.get("kind", "").strip()
    events = event_list_filtered(
        user_code=user_code,
        cause=cause,
        kind=kind,
        job_id=int(job_text) if job_text.isdigit() else None,
    )
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "deliverability/all_events.html",
        {
            "page": page,
            "filters": {"user_code": user_code, "cause": cause, "kind": kind, "job": job_text},
            "choices": event_filter_choices(),
            "kinds": EventKind.choices,
            "query": query.urlencode(),
        },
    )
