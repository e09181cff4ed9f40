"""Personal → User for the end user: option explanations, provider guidance, the global card."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from users.models import MailSender

pytestmark = pytest.mark.django_db

URL = "/personal/user/"


def mode_help(html: str) -> str:
    start = html.index('id="mail-sender-explained"')
    return html[start : html.index("</div>", start)]


def test_mode_explanations_directo_names_the_platform_relay(client):
    """Without a global card, Directo's explanation names the platform relay; all four show."""
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    html = mode_help(client.get(URL).content.decode())
    assert "platform&#x27;s relay (relay.platform.test:25)" in html
    assert "your own mail server" in html
    assert "no password is stored here" in html
    assert "acme@event.data.directo.ee" not in html
    assert html.count('data-mode="') == 4


def test_mode_explanations_directo_names_the_global_card(client):
    """With a global card, Directo's explanation names it and its server (from the resolver)."""
    SmtpCardFactory(code="KIVI", mail_server="smtp.kivi.test:465", ssl_tls="ssl")
    system_settings_set(mail_sending_user_code="KIVI", company_name="Acme")
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    html = mode_help(client.get(URL).content.decode())
    assert "global card KIVI (SMTP, smtp.kivi.test:465)" in html
    assert "relay.platform.test" not in html
    assert "event mailbox address (acme@event.data.directo.ee)" in html


def test_mode_explanations_select_is_described_by_them(client):
    """The Mail sender select points at the explanations (aria-describedby)."""
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    html = client.get(URL).content.decode()
    assert 'aria-describedby="mail-sender-explained"' in html


def test_mode_explanations_admin_card_page_shows_them(client):
    """The admin card page explains the options next to Mail sender too."""
    admin = get_user_model().objects.create_superuser("ADMIN", "admin@example.test", "pw-4711-x")
    card = UserCardFactory(code="MARI", mail_sender=MailSender.SMTP)
    client.force_login(admin)
    html = client.get(f"/admin/users/usercard/{card.pk}/change/").content.decode()
    assert 'id="mail-sender-explained"' in html
    assert "platform&#x27;s relay" in html


def test_mode_explanations_are_estonian(client):
    """The explanations are in the card's language (Estonian)."""
    card = UserCardFactory(code="MARI", language="et")
    client.force_login(card.user)
    html = mode_help(client.get(URL).content.decode())
    assert "oma meiliserveri" in html
    assert "your own mail server" not in html
