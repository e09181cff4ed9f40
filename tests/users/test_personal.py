"""The signed-in user's own card at /personal/user/ and Django's login page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from portal.views import personal_card
from tests.factories import SmtpCardFactory, UserCardFactory, UserFactory, system_settings_set
from users.models import MailSender, UserCard

pytestmark = pytest.mark.django_db

URL = "/personal/user/"
SECRET = "Plain-Secret-4711"


@pytest.fixture
def own_card():
    """A non-staff user's SMTP card with a stored password."""
    return SmtpCardFactory(code="MARI", smtp_password=SECRET)


@pytest.fixture
def owner_client(client, own_card):
    client.force_login(own_card.user)
    return client


def test_personal_card_url_is_named():
    """The page is reachable as users:personal_card at /personal/user/."""
    assert reverse("personal:card") == URL


def test_personal_card_redirects_anonymous_to_login(client):
    """An anonymous visitor is sent to Django's login with a return address."""
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={URL}"


def test_login_page_signs_in_and_opens_own_card(client, own_card):
    """The login page renders and a correct login lands on the user's own card."""
    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/",
        {"username": "MARI", "password": "correct-horse-battery-staple", "next": URL},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == URL
    assert "MARI" in response.content.decode()


def test_personal_card_shows_own_card_only(owner_client, own_card):
    """A non-staff user sees their own card and nothing of another card."""
    UserCardFactory(code="KIVI", name="Kivi Other", email="kivi-other@example.test")
    assert not own_card.user.is_staff
    response = owner_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert own_card.email in html
    assert "kivi-other@example.test" not in html
    assert 'name="code"' not in html


def test_personal_card_never_renders_password(owner_client, own_card):
    """Neither the stored password nor its ciphertext appears on the page."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT smtp_password FROM users_usercard WHERE id = %s", [own_card.pk])
        (ciphertext,) = cursor.fetchone()
    html = owner_client.get(URL).content.decode()
    assert SECRET not in html
    assert ciphertext not in html
    assert "A password is stored" in html


def test_personal_card_without_card_explains(client):
    """A user without a card gets a 404 page saying an administrator must create it."""
    client.force_login(UserFactory(username="NOCARD"))
    response = client.get(URL)
    assert response.status_code == 404
    assert "An administrator must create a card" in response.content.decode()


def test_personal_card_post_saves_own_card(owner_client, own_card, card_post_data):
    """Saving changes the user's own card and keeps the stored password when left blank."""
    response = owner_client.post(
        URL, card_post_data(own_card, code=None, name="Mari Maasikas", mail_edit="on")
    )
    assert response.status_code == 302
    own_card.refresh_from_db()
    assert own_card.name == "Mari Maasikas"
    assert own_card.mail_edit is True
    assert own_card.smtp_password.reveal() == SECRET


def test_personal_card_post_cannot_touch_another_card(owner_client, own_card, card_post_data):
    """POSTing another card's code changes neither that card nor the user's own code."""
    other = SmtpCardFactory(code="KIVI", name="Kivi", smtp_password="kivi-secret")
    response = owner_client.post(
        URL,
        card_post_data(
            own_card, code="KIVI", id=str(other.pk), user=str(other.user_id), name="Hijacked"
        ),
    )
    assert response.status_code == 302
    other.refresh_from_db()
    own_card.refresh_from_db()
    assert (other.code, other.name, other.smtp_password.reveal()) == ("KIVI", "Kivi", "kivi-secret")
    assert own_card.code == "MARI"
    assert own_card.user.username == "MARI"
    assert own_card.name == "Hijacked"


def test_personal_card_clear_removes_password(owner_client, own_card, card_post_data):
    """Ticking "clear the stored password" removes it."""
    data = card_post_data(own_card, code=None, smtp_username="", clear_smtp_password="on")
    assert owner_client.post(URL, data).status_code == 302
    own_card.refresh_from_db()
    assert own_card.smtp_password.reveal() == ""


def test_personal_card_rejects_bad_port(owner_client, own_card, card_post_data):
    """A disallowed port is shown as a validation error and nothing is saved."""
    data = card_post_data(own_card, code=None, mail_server="smtp.example.test:2525")
    response = owner_client.post(URL, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Port 2525 is not allowed" in html
    assert SECRET not in html
    own_card.refresh_from_db()
    assert own_card.mail_server == "smtp.example.test:587"


def test_personal_card_refuses_microsoft_365_basic_auth(owner_client, own_card, card_post_data):
    """A Microsoft 365 host with username and password points the user to OAUTH."""
    data = card_post_data(own_card, code=None, mail_server="smtp.office365.com:587")
    response = owner_client.post(URL, data)
    assert response.status_code == 200
    assert "Choose “Microsoft 365 OAUTH”" in response.content.decode()


def test_personal_card_save_shows_warnings(owner_client, own_card, card_post_data):
    """A saved SSL/TLS mismatch comes back as a warning message naming the fix."""
    data = card_post_data(own_card, code=None, ssl_tls="no")
    response = owner_client.post(URL, data, follow=True)
    html = response.content.decode()
    assert "Your mail settings have been saved." in html
    assert "the password and mail would cross the network unencrypted" in html


def test_personal_card_shows_effective_settings(client):
    """A Directo user inheriting the global card sees its values with the global source."""
    SmtpCardFactory(code="KIVI", mail_server="smtp.zone.eu:465", ssl_tls="ssl")
    system_settings_set(mail_sending_user_code="KIVI")
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    html = client.get(URL).content.decode()
    assert "smtp.zone.eu" in html
    assert "global:KIVI" in html


def test_personal_card_m365_mode_shows_authenticate_button(client):
    """A Microsoft 365 OAUTH card shows the working Authenticate Microsoft 365 button."""
    card = UserCardFactory(
        code="MARI", mail_sender=MailSender.M365_OAUTH, mail_server="smtp.office365.com:587"
    )
    client.force_login(card.user)
    html = client.get(URL).content.decode()
    assert 'action="/oauth365/start/"' in html
    assert ">Authenticate Microsoft 365</button>" in html
    assert "available after microsoft 365 is configured" not in html.lower()


def test_personal_card_smtp_mode_has_authenticate_button_for_the_choice(owner_client):
    """An SMTP card has the button in the block shown for Microsoft 365 OAUTH, with its note."""
    html = owner_client.get(URL).content.decode()
    connect = html.split("data-m365-connect>", 1)[1].split("data-m365-summary", 1)[0]
    assert 'action="/oauth365/start/"' in connect
    assert 'name="switch_mode" value="1"' in connect
    assert "completing the sign-in saves the card with that mail sender" in connect


def test_personal_card_hides_password_in_error_reports(own_card):
    """An error report of the personal card view masks smtp_password."""
    request = RequestFactory().post(URL, {"smtp_password": SECRET, "name": "x"})
    request.user = own_card.user
    request._dont_enforce_csrf_checks = True
    request.session = {}
    request._messages = []
    personal_card(request)
    cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
    assert cleansed["smtp_password"] != SECRET
    assert cleansed["name"] == "x"


def test_personal_card_staff_user_sees_own_card(client):
    """Staff users use the same page for their own card."""
    card = UserCardFactory(code="BOSS", user__is_staff=True)
    client.force_login(card.user)
    response = client.get(URL)
    assert response.status_code == 200
    assert UserCard.objects.get(pk=card.pk).code in response.content.decode()


def test_personal_card_loads_deliverability_check_after_the_page(owner_client, monkeypatch):
    """The card page links its DNS check as a fragment loaded later, never inline."""
    from deliverability import dns

    monkeypatch.setattr(dns, "LOOKUP_LIFETIME", 0.2)
    monkeypatch.setattr(dns, "DIAGNOSIS_DEADLINE", 0.5)
    html = owner_client.get(URL).content.decode()
    assert 'data-diagnostics-url="/deliverability/diagnostics/?fragment=1"' in html
    fragment = owner_client.get("/deliverability/diagnostics/?fragment=1")
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content.lower()
