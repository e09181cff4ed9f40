"""What the end user's own pages of every app take from users: the signed-in user's card."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.utils.translation import gettext

from users.models import UserCard


def request_card_get(request: HttpRequest) -> UserCard:
    """Return the signed-in user's own card; no card id ever comes from the request."""
    card: UserCard | None = getattr(request.user, "card", None)
    if card is None:
        raise Http404(gettext("You have no user card yet; ask an administrator to create one."))
    return card
