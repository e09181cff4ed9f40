"""Fixtures: the local HTTPS identity provider and OAUTH365_* settings pointing at it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.http import HttpResponse
from django.test import Client

from oauth365 import client as oauth365_client
from tests.factories import UserCardFactory
from tests.oauth365.idp import IdentityProvider
from users.models import MailSender, UserCard

REDIRECT_URI = "https://mail.directo.test/oauth365/callback/"


def idp_settings_apply(settings, provider: IdentityProvider, ca_path: Path, redirect_uri: str):
    """Point OAUTH365_* at the provider and trust its CA through MAILER_CA_BUNDLE."""
    settings.OAUTH365_CLIENT_ID = provider.client_id
    settings.OAUTH365_CLIENT_SECRET = provider.client_secret
    settings.OAUTH365_AUTHORITY = provider.authority
    settings.OAUTH365_REDIRECT_URI = redirect_uri
    settings.MAILER_CA_BUNDLE = provider.ca_pem_write(str(ca_path))
    return settings


@pytest.fixture
def idp(settings, tmp_path: Path) -> Iterator[IdentityProvider]:
    """A fresh identity provider on its own port, with the app's settings pointing at it."""
    provider = IdentityProvider(redirect_uris=(REDIRECT_URI,)).start()
    idp_settings_apply(settings, provider, tmp_path / "idp-ca.pem", REDIRECT_URI)
    yield provider
    provider.stop()
    oauth365_client.discovery_cache_clear()


@pytest.fixture
def card(db) -> UserCard:
    return UserCardFactory(
        code="KIVI",
        email="kivi@contoso.test",
        mail_sender=MailSender.M365_OAUTH,
        smtp_username="kivi@contoso.test",
    )


@pytest.fixture
def user_client(card: UserCard) -> Client:
    client = Client()
    client.force_login(card.user)
    return client


class SignIn:
    """Drive start → authorize → callback as a browser would, with the real MSAL library."""

    def __init__(self, provider: IdentityProvider, ca_path: str) -> None:
        self.idp = provider
        self.ca_path = ca_path

    def start(self, client: Client, **data: str) -> str:
        """POST start; return the authorization URL the browser is sent to."""
        response = client.post("/oauth365/start/", {"popup": "1", **data})
        assert response.status_code == 302, response.content[:500]
        return response["Location"]

    def authorize(self, auth_uri: str) -> dict[str, str]:
        """Let the provider answer the authorization request; return the redirect's params."""
        answer = requests.get(auth_uri, verify=self.ca_path, allow_redirects=False, timeout=10)
        if answer.status_code == 302:  # response_mode=query
            location = answer.headers["Location"]
            assert location.startswith(REDIRECT_URI)
            return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert answer.status_code == 200, answer.text[:500]  # response_mode=form_post
        assert f'action="{REDIRECT_URI}"' in answer.text
        return {
            html.unescape(name): html.unescape(value)
            for name, value in re.findall(r'name="([^"]*)" value="([^"]*)"', answer.text)
        }

    def __call__(self, client: Client, *, method: str = "post", **data: str) -> HttpResponse:
        params = self.authorize(self.start(client, **data))
        if method == "get":
            return client.get("/oauth365/callback/", params)
        return client.post("/oauth365/callback/", params)


@pytest.fixture
def sign_in(idp: IdentityProvider, settings) -> SignIn:
    return SignIn(idp, settings.MAILER_CA_BUNDLE)
