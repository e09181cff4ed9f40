"""Personal → User and Microsoft 365: the inherited sign-in, the password in that mode."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from oauth365.models import M365Connection, M365Status
from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from users.models import MailSender, UserCard

pytestmark = pytest.mark.django_db

URL = "/personal/user/"
SECRET = "s3cret-never-shown"


def post_data(card: UserCard, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": card.name,
        "email": card.email,
        "mail_sender": card.mail_sender,
        "mail_server": card.mail_server,
        "ssl_tls": card.ssl_tls,
        "smtp_username": card.smtp_username,
        "smtp_password": "",
        "mail_as_attachment": card.mail_as_attachment,
        "attachments_with_email": "1",
        "mail_edit": "0",
        "language": card.language,
    }
    data.update(overrides)
    return data


def logged_in(card: UserCard) -> Client:
    client = Client()
    client.force_login(card.user)
    return client


def test_m365_status_inherited_global_sign_in_is_shown(db):
    """A user sending with the global card's sign-in sees it, not "Not authenticated"."""
    glob = UserCardFactory(
        code="KIVI",
        mail_sender=MailSender.M365_OAUTH,
        mail_server="smtp.office365.com:587",
        ssl_tls="starttls",
    )
    M365Connection.objects.create(
        card=glob, token_cache="{}", account="kivi@contoso.test", status=M365Status.CONNECTED
    )
    system_settings_set(mail_sending_user_code="KIVI")
    card = UserCardFactory(code="MARI", mail_sender=MailSender.M365_OAUTH)

    html = logged_in(card).get(URL).content.decode()

    assert "Signed in through the global card KIVI (kivi@contoso.test)" in html
    assert 'data-oauth365-state="inherited"' in html
    assert "Microsoft 365 is not authenticated" not in html


def test_m365_status_own_card_without_sign_in_is_not_authenticated(db):
    """Without a global sign-in to inherit, the card still says it is not authenticated."""
    card = UserCardFactory(code="MARI", mail_sender=MailSender.M365_OAUTH)

    html = logged_in(card).get(URL).content.decode()

    assert "Signed in through the global card" not in html
    assert "Microsoft 365 is not authenticated" in html


def test_personal_card_m365_mode_ignores_a_typed_password(db):
    """Saving in Microsoft 365 OAUTH mode ignores a typed password and drops a stored one."""
    card = SmtpCardFactory(code="MARI", mail_server="smtp.office365.com:587", smtp_password=SECRET)
    client = logged_in(card)

    response = client.post(
        URL,
        post_data(card, mail_sender=MailSender.M365_OAUTH, smtp_password="typed-anyway"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    card.refresh_from_db()
    assert card.mail_sender == MailSender.M365_OAUTH
    assert not card.smtp_password


PREVIEW_URL = "/personal/user/preview/"


def test_card_preview_resolves_unsaved_values_without_the_password(db):
    """The preview resolves the posted values, saves nothing and never shows the password."""
    card = UserCardFactory(code="MARI", email="mari@example.test")
    client = logged_in(card)

    response = client.post(
        PREVIEW_URL,
        post_data(
            card,
            mail_sender=MailSender.SMTP,
            mail_server="smtp.zone.eu:465",
            ssl_tls="ssl",
            smtp_username="mari@example.test",
            smtp_password=SECRET,
        ),
    )

    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    html = response.json()["html"]
    assert "smtp.zone.eu" in html
    assert "Preview of the values on this page" in html
    assert "<td>set</td>" in html
    assert response.json()["ready"] is True
    card.refresh_from_db()
    assert card.mail_sender == MailSender.DIRECTO
    assert card.mail_server == ""
    assert not card.smtp_password


def test_card_preview_without_typed_password_says_not_set(db):
    """A server mode without a typed or stored password previews as "not set" and not ready."""
    card = UserCardFactory(code="MARI", email="mari@example.test")

    response = logged_in(card).post(
        PREVIEW_URL,
        post_data(
            card,
            mail_sender=MailSender.SMTP,
            mail_server="smtp.zone.eu:465",
            smtp_username="mari@example.test",
        ),
    )

    assert "<td>not set</td>" in response.json()["html"]
    assert response.json()["ready"] is False


def test_card_preview_refuses_anonymous_users(db):
    """An anonymous POST is sent to the login page and gets no settings."""
    response = Client().post(PREVIEW_URL, {"mail_sender": MailSender.SMTP})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_card_preview_requires_csrf_token_and_post(db):
    """The preview is a POST with the CSRF token: without it 403, and GET is refused."""
    card = UserCardFactory(code="MARI")
    client = Client(enforce_csrf_checks=True)
    client.force_login(card.user)

    assert client.post(PREVIEW_URL, post_data(card)).status_code == 403
    assert client.get(PREVIEW_URL).status_code == 405
