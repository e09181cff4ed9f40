"""Personal → User, its panels and the card admin in the reader's language (no browser)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from portal.panels import effective_settings
from portal.views import TEST_MAIL_PREFIX, MailTestForm
from tests.factories import SmtpCardFactory, UserCardFactory
from users.forms import CARD_FIELDS
from users.models import UserCard

pytestmark = pytest.mark.django_db

URL = "/personal/user/"


def post_data(card: UserCard, **overrides: Any) -> dict[str, Any]:
    """The POST a browser sends for the card's form (no password: it never receives one)."""
    data: dict[str, Any] = {}
    for name in CARD_FIELDS:
        value = getattr(card, name)
        if name == "code" or name == "smtp_password":
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = value
    return data | overrides


def test_personal_card_page_speaks_the_card_language(client):
    """A card with language "pl" gets its page in Polish, glossary words included."""
    card = SmtpCardFactory(code="MARI", language="pl")
    client.force_login(card.user)
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="et").content.decode()
    assert '<html lang="pl">' in html
    assert "<h1>Osobiste → Użytkownik</h1>" in html
    assert "<legend>Serwer poczty mailowej i port</legend>" in html
    assert "<h2>Obowiązujące ustawienia</h2>" in html
    assert "<h2>Wyślij testową wiadomość e-mail</h2>" in html
    assert ">Zapisz</button>" in html
    assert "Personal → User" not in html


def test_personal_card_save_message_is_estonian(client):
    """Saving from an Estonian browser (card without a language) says so in Estonian."""
    card = SmtpCardFactory(code="MARI", language="")
    client.force_login(card.user)
    response = client.post(URL, post_data(card), follow=True, HTTP_ACCEPT_LANGUAGE="et")
    assert "Teie meiliseadistused on salvestatud." in response.content.decode()


def test_personal_card_missing_page_is_latvian(client):
    """An account without a card reads why in Latvian, its user name filled in."""
    user = get_user_model().objects.create_user("JANIS", password="x-secret-4711")
    client.force_login(user)
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="lv")
    assert response.status_code == 404
    assert "Jūsu kontam (JANIS) vēl nav lietotāja kartes." in response.content.decode()


def test_effective_settings_rows_are_latvian():
    """The panel's row labels and values use the glossary's Latvian words."""
    card = SmtpCardFactory(code="MARI")
    with translation.override("lv"):
        rows = {label: value for label, value, _ in effective_settings(card)["rows"]}
    assert rows["E-pasta sūtītājs"] == "SMTP"
    assert rows["Lietotājs"] == card.smtp_username
    assert rows["Parole"] == "iestatīta"
    assert rows["Masveida sūtīšana"] == "atļauta"


def test_mail_test_form_line_break_error_is_polish():
    """A recipient with a line break is refused in Polish."""
    form = MailTestForm(
        {f"{TEST_MAIL_PREFIX}-to": "a@firma.test\nBcc: b@x.test"}, prefix="test_mail"
    )
    with translation.override("pl"):
        assert not form.is_valid()
        assert form.errors["to"] == [
            "Adres odbiorcy musi mieścić się w jednym wierszu (bez podziałów wiersza)."
        ]


def test_admin_card_page_is_estonian(client):
    """The card admin in Estonian: fieldsets, the test e-mail panel and the DNS link."""
    admin_user = get_user_model().objects.create_superuser("ADMIN", "a@example.test", "x-4711")
    card = UserCardFactory(code="MARI")
    client.force_login(admin_user)
    url = reverse("admin:users_usercard_change", args=[card.pk])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="et").content.decode()
    assert "Server ja port" in html
    assert "Kehtivad seadistused" in html
    assert ">Saada testmeil</a>" in html
    assert ">DNS-i kontroll</a>" in html
    # card_form.js and test_mail.js find their texts in the page's JavaScript catalog.
    assert 'src="/jsi18n/"' in html


def test_javascript_catalog_has_card_form_texts_in_latvian(client):
    """The djangojs catalog carries card_form.js's SSL/TLS hint and the SSL/TLS "No"."""
    catalog = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="lv").content.decode()
    assert "Ports %(port)s parasti sagaida" in catalog
    assert '"ssl_tls\\u0004No": "N\\u0113"' in catalog
