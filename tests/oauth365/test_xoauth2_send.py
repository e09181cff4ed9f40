"""Sending by XOAUTH2 end to end: MSAL token from the local identity provider, real SMTP AUTH."""

from __future__ import annotations

import email
import email.policy
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from events.models import EventKind, MailEvent
from oauth365.models import M365Connection, M365Status
from tests.factories import UserCardFactory, system_settings_set

pytestmark = pytest.mark.django_db

REVOKED = ("invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity.")


@pytest.fixture
def m365_server(idp, smtp_server, settings, ca_bundle, tmp_path: Path):
    """A STARTTLS server offering XOAUTH2 that accepts only tokens the provider issued."""
    server = smtp_server(tls="starttls", xoauth2=True, by_address=True)
    server.sink.token_check = idp.is_valid_access_token
    # Trust both test CAs: the SMTP server's and the identity provider's.
    idp_ca = Path(idp.ca_pem_write(str(tmp_path / "idp-ca.pem")))
    combined = tmp_path / "both-cas.pem"
    combined.write_bytes(Path(ca_bundle).read_bytes() + idp_ca.read_bytes())
    settings.MAILER_CA_BUNDLE = str(combined)
    return server


def _point_at(card, server) -> None:
    card.mail_server = f"{server.address}:{server.port}"
    card.ssl_tls = "starttls"
    card.save()


def test_sendtestmail_xoauth2_with_own_token(card, user_client, sign_in, m365_server):
    """A signed-in card's mail goes out by XOAUTH2 as the signed-in account with a valid token."""
    # The server first: a new host drops a stored token (the user signs in again).
    _point_at(card, m365_server)
    sign_in(user_client)
    call_command("sendtestmail", "KIVI", "--to", "c@example.test", stdout=StringIO())
    [delivery] = m365_server.sink.deliveries
    assert delivery.login == "kivi@contoso.test"
    assert ("XOAUTH2", "kivi@contoso.test") in m365_server.sink.auth_attempts
    parsed = email.message_from_bytes(delivery.content, policy=email.policy.default)
    assert parsed["From"] == "kivi@contoso.test"


def test_sendtestmail_xoauth2_refreshes_expiring_token(
    idp, card, user_client, sign_in, m365_server
):
    """An access token about to expire is refreshed silently before the send."""
    idp.access_token_lifetime = 120
    # The server first: a new host drops a stored token (the user signs in again).
    _point_at(card, m365_server)
    sign_in(user_client)
    call_command("sendtestmail", "KIVI", "--to", "c@example.test", stdout=StringIO())
    assert idp.refresh_count == 1
    assert len(m365_server.sink.deliveries) == 1


def test_sendtestmail_user_inherits_global_m365_token(card, user_client, sign_in, m365_server):
    """A Directo user uses the global card's token and mailbox; From stays the user's address."""
    # The server first: a new host drops a stored token (the user signs in again).
    _point_at(card, m365_server)
    sign_in(user_client)
    system_settings_set(mail_sending_user_code="KIVI")
    UserCardFactory(code="MARI", email="mari@contoso.test")
    call_command("sendtestmail", "MARI", "--to", "c@example.test", stdout=StringIO())
    [delivery] = m365_server.sink.deliveries
    assert delivery.login == "kivi@contoso.test"
    assert delivery.mail_from == "mari@contoso.test"


def test_sendtestmail_revoked_consent_asks_to_authenticate_again(
    idp, card, user_client, sign_in, m365_server
):
    """Revoked consent: nothing sent, "authenticate again", the card marked, one event."""
    idp.access_token_lifetime = 120
    # The server first: a new host drops a stored token (the user signs in again).
    _point_at(card, m365_server)
    sign_in(user_client)
    idp.refresh_error = REVOKED
    with pytest.raises(CommandError, match=r"(?i)authenticate"):
        call_command("sendtestmail", "KIVI", "--to", "c@example.test", stdout=StringIO())
    assert m365_server.sink.deliveries == []
    assert M365Connection.objects.get(card=card).status == M365Status.REAUTH_NEEDED
    assert MailEvent.objects.filter(card=card, kind=EventKind.REAUTH_NEEDED).count() == 1
