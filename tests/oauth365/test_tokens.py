"""Access tokens for sending: cached, refreshed silently under a row lock, re-auth on revoke."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import close_old_connections

from events.models import EventKind, MailEvent
from oauth365.exceptions import (
    IdentityProviderUnavailableError,
    NotAuthenticatedError,
    ReauthenticationRequiredError,
)
from oauth365.models import M365Connection, M365Status
from oauth365.services import m365_access_token_get, m365_disconnect

REVOKED = ("invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity.")


def _refresh_token(card) -> str:
    cache = json.loads(M365Connection.objects.get(card=card).token_cache.reveal())
    (entry,) = cache["RefreshToken"].values()
    return entry["secret"]


@pytest.mark.django_db
def test_access_token_get_returns_cached_token(idp, card, user_client, sign_in):
    """A token with more than five minutes left comes from the cache, without the provider."""
    sign_in(user_client)

    token = m365_access_token_get(card=card)

    assert idp.is_valid_access_token(token) == "kivi@contoso.test"
    assert m365_access_token_get(card=card) == token
    assert idp.refresh_count == 0


@pytest.mark.django_db
def test_access_token_get_refreshes_expiring_token(idp, card, user_client, sign_in):
    """Under five minutes left: one silent refresh, and the rotated refresh token is saved."""
    idp.access_token_lifetime = 240
    sign_in(user_client)
    old_refresh_token = _refresh_token(card)
    before = M365Connection.objects.get(card=card).token_refreshed_at

    token = m365_access_token_get(card=card)

    assert idp.refresh_count == 1
    assert idp.is_valid_access_token(token) == "kivi@contoso.test"
    assert not idp.refresh_token_valid(old_refresh_token)
    new_refresh_token = _refresh_token(card)
    assert new_refresh_token != old_refresh_token
    assert idp.refresh_token_valid(new_refresh_token)
    assert M365Connection.objects.get(card=card).token_refreshed_at > before


@pytest.mark.django_db(transaction=True)
def test_access_token_get_parallel_workers_refresh_once(idp, card, user_client, sign_in):
    """Two workers needing a refresh at once cause one refresh at the provider (row lock)."""
    idp.access_token_lifetime = 240
    sign_in(user_client)
    idp.access_token_lifetime = 3600
    idp.refresh_delay = 0.5  # the first refresh is still running when the second asks
    barrier = threading.Barrier(2)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            tokens.append(m365_access_token_get(card=card))
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert idp.refresh_count == 1
    assert len(tokens) == 2 and tokens[0] == tokens[1]
    assert idp.is_valid_access_token(tokens[0])
    assert idp.refresh_token_valid(_refresh_token(card))


@pytest.mark.django_db
def test_access_token_get_invalid_grant_needs_reauthentication(idp, card, user_client, sign_in):
    """invalid_grant marks the card, records one event and raises a non-transient error."""
    idp.access_token_lifetime = 240
    sign_in(user_client)
    idp.refresh_error = REVOKED

    with pytest.raises(ReauthenticationRequiredError) as caught:
        m365_access_token_get(card=card)

    assert caught.value.transient is False
    assert "Authenticate Microsoft 365" in caught.value.user_message
    assert M365Connection.objects.get(card=card).status == M365Status.REAUTH_NEEDED
    (event,) = MailEvent.objects.filter(card=card)
    assert event.kind == EventKind.REAUTH_NEEDED
    assert event.user_code == "KIVI"
    assert "AADSTS700082" in event.message


@pytest.mark.django_db
def test_access_token_get_after_revoke_does_not_ask_again(idp, card, user_client, sign_in):
    """Once re-authentication is needed, further calls neither loop nor add events."""
    idp.access_token_lifetime = 240
    sign_in(user_client)
    idp.refresh_error = REVOKED
    with pytest.raises(ReauthenticationRequiredError):
        m365_access_token_get(card=card)

    for _ in range(3):
        with pytest.raises(ReauthenticationRequiredError):
            m365_access_token_get(card=card)

    assert idp.refresh_count == 1
    assert MailEvent.objects.filter(card=card, kind=EventKind.REAUTH_NEEDED).count() == 1


@pytest.mark.django_db
def test_access_token_get_after_reauthentication_works_again(idp, card, user_client, sign_in):
    """Signing in again after a revoke makes the card usable again."""
    idp.access_token_lifetime = 240
    sign_in(user_client)
    idp.refresh_error = REVOKED
    with pytest.raises(ReauthenticationRequiredError):
        m365_access_token_get(card=card)
    idp.refresh_error = None
    idp.access_token_lifetime = 3600

    sign_in(user_client)

    assert M365Connection.objects.get(card=card).status == M365Status.CONNECTED
    assert idp.is_valid_access_token(m365_access_token_get(card=card))


@pytest.mark.django_db
def test_access_token_get_unreachable_provider_is_transient(idp, card, user_client, sign_in):
    """A provider that cannot be reached is a transient error and changes nothing."""
    idp.access_token_lifetime = 240
    sign_in(user_client)
    idp.stop()

    with pytest.raises(IdentityProviderUnavailableError) as caught:
        m365_access_token_get(card=card)

    assert caught.value.transient is True
    assert M365Connection.objects.get(card=card).status == M365Status.CONNECTED
    assert not MailEvent.objects.exists()


@pytest.mark.django_db
def test_access_token_get_without_sign_in_is_not_authenticated(idp, card):
    """A card that never signed in gets the named error that says to authenticate."""
    with pytest.raises(NotAuthenticatedError) as caught:
        m365_access_token_get(card=card)

    assert "KIVI" in caught.value.user_message
    assert idp.token_requests == []


@pytest.mark.django_db
def test_disconnect_deletes_the_cache(idp, card, user_client, sign_in):
    """Disconnect deletes the token cache, so no token can be had any more."""
    sign_in(user_client)

    assert m365_disconnect(card=card) is True

    assert not M365Connection.objects.filter(card=card).exists()
    with pytest.raises(NotAuthenticatedError):
        m365_access_token_get(card=card)
