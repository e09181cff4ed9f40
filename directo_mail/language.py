"""The interface language (SPEC.md "Languages"): the card's, else the browser's, else English.

Django's LocaleMiddleware chooses first: the switcher's cookie, then Accept-Language, then
LANGUAGE_CODE. CardLanguageMiddleware, after the authentication middleware, puts the signed-in
user's card language over that choice. The switcher posts to `language_set`: Django's own
set_language, which also keeps the choice on the card so that it follows the user to every
device.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.views.i18n import LANGUAGE_QUERY_PARAMETER, set_language

from users.models import Language, UserCard


def card_language_get(*, user: AbstractBaseUser | AnonymousUser) -> str:
    """Return the language on the signed-in user's card, or "" (anonymous, no card, blank)."""
    if not user.is_authenticated:
        return ""
    language = UserCard.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return language or ""


def card_language_save(*, user: AbstractBaseUser | AnonymousUser, language: str) -> bool:
    """Save the language on the signed-in user's card; return whether there was a card."""
    if not user.is_authenticated or language not in Language.values:
        return False
    # Only the language changes: none of the card's save() rules (secrets, server) apply.
    cards = UserCard.objects.filter(user_id=user.pk)
    return bool(cards.update(language=language, updated_at=timezone.now()))


class CardLanguageMiddleware:
    """Activate the signed-in user's card language over the one the browser asked for."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = card_language_get(user=request.user)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        # LocaleMiddleware, outside this one, names the active language in Content-Language.
        return self.get_response(request)


def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the language (Django's set_language); a signed-in user's card keeps the choice."""
    response = set_language(request)  # a GET only redirects, as Django's does
    card_language_save(user=request.user, language=request.POST.get(LANGUAGE_QUERY_PARAMETER, ""))
    return response
