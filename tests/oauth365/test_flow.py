"""The sign-in flow through the real MSAL library against the local identity provider."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.db import connection as db_connection
from django.test import Client

from oauth365.flows import FLOW_SESSION_KEY
from oauth365.models import M365Connection, M365Status
from tests.factories import UserCardFactory
from tests.oauth365.conftest import REDIRECT_URI
from users.models import MailSender

pytestmark = pytest.mark.django_db


def test_callback_stores_encrypted_cache_with_identity(idp, card, user_client, sign_in):
    """A completed sign-in stores the encrypted cache with tenant, object id and account."""
    response = sign_in(user_client)

    assert response.status_code == 200
    assert "Microsoft 365 has been authenticated" in response.content.decode()
    assert response["Cross-Origin-Opener-Policy"] == "unsafe-none"
    stored = M365Connection.objects.get(card=card)
    assert stored.tenant_id == idp.user.tid
    assert stored.object_id == idp.user.oid
    assert stored.account == "kivi@contoso.test"
    assert stored.status == M365Status.CONNECTED
    assert stored.authenticated_at is not None
    cache = json.loads(stored.token_cache.reveal())
    assert len(cache["RefreshToken"]) == 1
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT token_cache FROM oauth365_m365connection WHERE id = %s", [stored.pk])
        raw = cursor.fetchone()[0]
    assert "RefreshToken" not in raw
    assert next(iter(cache["RefreshToken"].values()))["secret"] not in raw
    assert FLOW_SESSION_KEY not in user_client.session


def _token_code_requests(idp) -> int:
    return len(idp.grants("authorization_code"))


def test_callback_accepts_query_response(idp, card, user_client, sign_in):
    """The callback completes the flow from query parameters (GET) as well."""
    response = sign_in(user_client, method="get")

    assert "Microsoft 365 has been authenticated" in response.content.decode()
    assert M365Connection.objects.filter(card=card, status=M365Status.CONNECTED).exists()


def test_callback_replayed_state_is_refused(idp, card, user_client, sign_in):
    """A second callback with the same state and code is refused: the flow is used once."""
    params = sign_in.authorize(sign_in.start(user_client))
    user_client.post("/oauth365/callback/", params)
    saved = M365Connection.objects.get(card=card).token_cache.reveal()

    first_replay = user_client.post("/oauth365/callback/", params)
    replay = user_client.post("/oauth365/callback/", {**params, "oauth365_repost": "1"})

    assert 'name="oauth365_repost"' in first_replay.content.decode()
    assert "could not be matched" in replay.content.decode()
    assert _token_code_requests(idp) == 1
    assert M365Connection.objects.get(card=card).token_cache.reveal() == saved


def test_callback_without_flow_is_refused(idp, card, user_client):
    """A callback that no start preceded stores nothing and never reaches the provider."""
    response = user_client.get("/oauth365/callback/", {"code": "stolen", "state": "guessed"})

    assert "could not be matched" in response.content.decode()
    assert not M365Connection.objects.exists()
    assert idp.token_requests == []


def test_callback_missing_state_is_refused(idp, card, user_client, sign_in):
    """A callback without a state is refused even while a flow is pending."""
    params = sign_in.authorize(sign_in.start(user_client))
    del params["state"]

    response = user_client.post("/oauth365/callback/", params)

    assert "could not be matched" in response.content.decode()
    assert not M365Connection.objects.exists()
    assert _token_code_requests(idp) == 0


def test_callback_expired_flow_is_refused(idp, card, user_client, sign_in):
    """A flow older than ten minutes is refused and nothing is stored."""
    params = sign_in.authorize(sign_in.start(user_client))
    session = user_client.session
    session[FLOW_SESSION_KEY]["started_at"] -= 601
    session.save()

    response = user_client.post("/oauth365/callback/", params)

    assert "could not be matched" in response.content.decode()
    assert not M365Connection.objects.exists()
    assert _token_code_requests(idp) == 0


def test_callback_other_users_flow_is_refused(idp, card, user_client, sign_in):
    """A flow started by one user cannot be completed in another user's session."""
    other = UserCardFactory(code="MARI", mail_sender=MailSender.M365_OAUTH)
    params = sign_in.authorize(sign_in.start(user_client))
    stolen_flow = user_client.session[FLOW_SESSION_KEY]
    other_client = Client()
    other_client.force_login(other.user)
    session = other_client.session
    session[FLOW_SESSION_KEY] = stolen_flow
    session.save()

    response = other_client.post("/oauth365/callback/", params)

    assert "could not be matched" in response.content.decode()
    assert not M365Connection.objects.exists()
    assert _token_code_requests(idp) == 0


def test_callback_tampered_state_is_refused(idp, card, user_client, sign_in):
    """A state that differs from the pending flow's is refused and nothing is stored."""
    params = sign_in.authorize(sign_in.start(user_client))
    params["state"] = params["state"][:-1] + ("A" if params["state"][-1] != "A" else "B")

    response = user_client.post("/oauth365/callback/", params)

    assert "could not be matched" in response.content.decode()
    assert not M365Connection.objects.exists()
    assert _token_code_requests(idp) == 0


def test_callback_forged_state_keeps_the_pending_sign_in(idp, card, user_client, sign_in):
    """A cross-site GET with a wrong state is refused and does not cancel the real sign-in."""
    params = sign_in.authorize(sign_in.start(user_client))
    forged = user_client.get("/oauth365/callback/", {"state": "forged", "code": "x"})

    assert "could not be matched" in forged.content.decode()
    assert FLOW_SESSION_KEY in user_client.session
    assert not M365Connection.objects.exists()

    user_client.post("/oauth365/callback/", params)
    assert M365Connection.objects.get(card=card).usable
    assert FLOW_SESSION_KEY not in user_client.session


def test_start_redirect_uri_ignores_host_header(idp, card, user_client, sign_in, settings):
    """The authorization request carries OAUTH365_REDIRECT_URI whatever the Host header says."""
    settings.ALLOWED_HOSTS = ["*"]
    response = user_client.post(
        "/oauth365/start/", {"popup": "1"}, HTTP_HOST="attacker.example:8443"
    )

    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert response["Location"].startswith(idp.authority + "/oauth2/v2.0/authorize?")
    sign_in.authorize(response["Location"])
    assert idp.authorize_requests[-1]["redirect_uri"] == REDIRECT_URI


def test_start_sends_pkce_nonce_and_login_hint(idp, card, user_client, sign_in):
    """The authorization request carries PKCE S256, a nonce, a state and the card's username."""
    query = parse_qs(urlsplit(sign_in.start(user_client)).query)

    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0] and query["nonce"][0] and query["state"][0]
    assert query["login_hint"] == ["kivi@contoso.test"]
    assert {"https://outlook.office.com/SMTP.Send", "offline_access"} <= set(
        query["scope"][0].split()
    )
    assert query["response_mode"] == ["form_post"]


def test_start_requires_post_with_csrf_token(idp, card):
    """Starting the flow needs a POST carrying the CSRF token."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(card.user)

    assert browser.get("/oauth365/start/").status_code == 405
    assert browser.post("/oauth365/start/").status_code == 403
    assert FLOW_SESSION_KEY not in browser.session


def test_start_requires_login(idp, db):
    """An anonymous visitor is sent to the login page instead of Microsoft."""
    response = Client().post("/oauth365/start/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "next_value",
    ["https://attacker.example/", "//attacker.example/x", "/\\attacker.example", "javascript:x"],
)
def test_start_next_limited_to_own_paths(idp, card, user_client, sign_in, next_value):
    """A `next` outside this site is replaced by the card page after the flow."""
    params = sign_in.authorize(sign_in.start(user_client, next=next_value))
    user_client.post("/oauth365/callback/", params)

    response = user_client.get("/oauth365/done/")

    assert response.status_code == 302
    assert response["Location"] == "/personal/user/"


def test_start_next_own_path_is_kept(idp, card, user_client, sign_in):
    """A `next` that is a path of this site is where the user lands after the flow."""
    params = sign_in.authorize(sign_in.start(user_client, next="/personal/user/?tab=mail"))
    user_client.post("/oauth365/callback/", params)

    assert user_client.get("/oauth365/done/")["Location"] == "/personal/user/?tab=mail"


def test_done_without_opener_shows_message_on_card(idp, card, user_client, sign_in):
    """Without an opener the popup goes to the card page, which shows the result message."""
    sign_in(user_client)

    response = user_client.get("/oauth365/done/")

    assert response["Location"] == "/personal/user/"
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert texts == ["Microsoft 365 has been authenticated"]


def test_callback_full_page_flow_redirects_with_message(idp, card, user_client, sign_in):
    """With the popup blocked, the callback redirects to the card with the result message."""
    response = sign_in(user_client, popup="0")

    assert response.status_code == 302
    assert response["Location"] == "/personal/user/"
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert texts == ["Microsoft 365 has been authenticated"]


def test_callback_form_post_without_cookie_is_reposted(idp, card, user_client, sign_in):
    """A form_post without the session cookie is re-posted from this origin, fields intact."""
    params = sign_in.authorize(sign_in.start(user_client))

    response = Client().post("/oauth365/callback/", params)

    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="oauth365_repost"' in body
    assert f'name="code" value="{params["code"]}"' in body
    assert user_client.post("/oauth365/callback/", {**params, "oauth365_repost": "1"}).status_code
    assert M365Connection.objects.filter(card=card).exists()


def test_callback_account_mismatch_warns(idp, card, user_client, sign_in):
    """Signing in as an account other than the card's Username gives a warning."""
    idp.user.preferred_username = "someone.else@contoso.test"

    body = sign_in(user_client).content.decode()

    assert "Microsoft 365 has been authenticated" in body
    assert "someone.else@contoso.test" in body
    assert "Use this account" in body
    status = user_client.get("/oauth365/status/").json()
    assert "but the card's Username is kivi@contoso.test" in status["warning"]


def test_use_account_sets_username_to_signed_in_account(idp, card, user_client, sign_in):
    """“Use this account” sets the card's Username to the signed-in account."""
    idp.user.preferred_username = "someone.else@contoso.test"
    sign_in(user_client)

    response = user_client.post("/oauth365/use-account/", {"next": "/personal/user/"})

    assert response["Location"] == "/personal/user/"
    card.refresh_from_db()
    assert card.smtp_username == "someone.else@contoso.test"
    assert user_client.get("/oauth365/status/").json()["warning"] == ""


def test_callback_mailbox_linked_to_other_card_is_refused(idp, card, user_client, sign_in):
    """A mailbox (tenant + object id) already linked to another card is refused."""
    other = UserCardFactory(code="MARI", mail_sender=MailSender.M365_OAUTH)
    M365Connection.objects.create(
        card=other, tenant_id=idp.user.tid, object_id=idp.user.oid, token_cache="{}"
    )

    body = sign_in(user_client).content.decode()

    assert "already linked to user card MARI" in body
    assert not M365Connection.objects.filter(card=card).exists()


def test_callback_consent_refused_is_explained(idp, card, user_client, sign_in):
    """access_denied (AADSTS65004) becomes a message naming the fix."""
    idp.authorize_mode = "error"

    body = sign_in(user_client).content.decode()

    assert "permission to send mail was refused" in body
    assert "AADSTS65004" in body
    assert "Grant admin consent" in body
    assert not M365Connection.objects.exists()


def test_callback_redirect_uri_mismatch_is_explained(idp, card, user_client, sign_in):
    """AADSTS50011 becomes a message naming the redirect URI to register."""
    idp.authorize_mode = "error"
    idp.authorize_error = (
        "invalid_request",
        "AADSTS50011: The redirect URI specified in the request does not match.",
    )

    body = sign_in(user_client).content.decode()

    assert "AADSTS50011" in body
    assert REDIRECT_URI in body
    assert "App registrations" in body


def test_callback_bad_client_secret_is_explained(idp, card, user_client, sign_in, settings):
    """A wrong client secret (AADSTS7000215) names OAUTH365_CLIENT_SECRET."""
    params = sign_in.authorize(sign_in.start(user_client))
    settings.OAUTH365_CLIENT_SECRET = "wrong-secret"

    body = user_client.post("/oauth365/callback/", params).content.decode()

    assert "OAUTH365_CLIENT_SECRET" in body
    assert "AADSTS7000215" in body
    assert not M365Connection.objects.exists()


def test_start_unconfigured_names_missing_setting(idp, card, user_client, settings):
    """Without OAUTH365_CLIENT_ID the popup shows which variable to set."""
    settings.OAUTH365_CLIENT_ID = ""

    response = user_client.post("/oauth365/start/", {"popup": "1"})

    assert response.status_code == 200
    assert "OAUTH365_CLIENT_ID is not set" in response.content.decode()
    assert FLOW_SESSION_KEY not in user_client.session
