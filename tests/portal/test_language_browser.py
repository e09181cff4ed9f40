"""Personal → User in Estonian, Latvian and Polish in a real browser (Chromium)."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext

from tests.factories import SmtpCardFactory, UserCardFactory
from tests.users.test_browser import log_in
from users.models import MailSender, UserCard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ("et", "lv", "pl")
URL = "/personal/user/"

#: The glossary of SPEC.md ("Languages"): the words Directo's users know.
GLOSSARY = {
    "et": {
        "personal_user": "Isiklik → Kasutaja",
        "mail_sender": "Meili saatja",
        "mail_server": "Server ja port",
        "username": "Kasutaja",
        "password": "Parool",
        "ssl_tls_no": "Ei",
        "authenticate": "Autendi Microsoft 365",
    },
    "lv": {
        "personal_user": "Personāls → Lietotājs",
        "mail_sender": "E-pasta sūtītājs",
        "mail_server": "Serveris un ports",
        "username": "Lietotājs",
        "password": "Parole",
        "ssl_tls_no": "Nē",
        "authenticate": "Autentificēt Microsoft 365",
    },
    "pl": {
        "personal_user": "Osobiste → Użytkownik",
        "mail_sender": "Nadawca wiadomości e-mail",
        "mail_server": "Serwer poczty mailowej i port",
        "username": "Nazwa użytkownika",
        "password": "Hasło",
        "ssl_tls_no": "Nie",
        "authenticate": "Uwierzytelnij za pomocą Microsoft 365",
    },
}

#: card_form.js's hint for SSL chosen on port 587 (portal's djangojs catalog).
SSL_ON_587_HINT = {
    "et": "Port 587 eeldab tavaliselt valikut „StartTLS / SSL / TLS“, mitte „SSL“.",
    "lv": "Ports 587 parasti sagaida „StartTLS / SSL / TLS“, nevis „SSL“.",
    "pl": "Port 587 zwykle wymaga „StartTLS / SSL / TLS”, a nie „SSL”.",
}


def label_text(page, field: str) -> str:
    return page.locator(f"label[for=id_{field}]").inner_text().strip().rstrip(":")


@pytest.mark.parametrize("language", LANGUAGES)
def test_personal_card_page_shows_glossary_labels(chromium_page, live_server, language):
    """The card page in the card's language uses the glossary's words for its fields."""
    SmtpCardFactory(code="MARI", language=language)
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    words = GLOSSARY[language]

    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("h1").inner_text() == words["personal_user"]
    assert page.title().startswith(words["personal_user"])
    assert (
        page.locator("header.site-header nav a[href='/personal/user/']").inner_text()
        == (words["personal_user"])
    )
    assert page.locator("fieldset.server-fields legend").inner_text() == words["mail_server"]
    assert label_text(page, "mail_sender") == words["mail_sender"]
    assert label_text(page, "mail_server") == words["mail_server"]
    assert label_text(page, "smtp_username") == words["username"]
    assert label_text(page, "smtp_password") == words["password"]
    assert page.locator("#id_ssl_tls option[value=no]").inner_text() == words["ssl_tls_no"]
    # The effective settings panel (portal's own rows) speaks the same words.
    effective = page.locator("[data-effective-settings]").inner_text()
    assert words["mail_sender"] in effective and words["password"] in effective
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("language", LANGUAGES)
def test_personal_card_page_validation_and_ssl_hint_in_language(
    chromium_page, live_server, language
):
    """The live SSL/TLS hint and the server's port error both appear in the card's language."""
    card = SmtpCardFactory(code="MARI", language=language)
    page = chromium_page
    log_in(page, live_server, "MARI", URL)

    page.select_option("#id_ssl_tls", "ssl")
    page.fill("#id_mail_server", "smtp.example.test:587")
    hint = page.locator("#ssl-tls-hint")
    assert SSL_ON_587_HINT[language] in hint.inner_text()

    page.fill("#id_mail_server", "smtp.example.test:2525")
    page.click("form.card-form button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    errors = page.locator(".field-mail_server .errorlist").inner_text()
    with translation.override(language):
        expected = gettext(
            "Port %(port)s is not allowed: use 465 (SSL), 587 (StartTLS) or 25 (StartTLS)."
        ) % {"port": 2525}
    assert "is not allowed" not in expected, "the users catalog lacks this message"
    assert expected in errors
    assert UserCard.objects.get(pk=card.pk).mail_server == "smtp.example.test:587"
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("language", LANGUAGES)
def test_personal_card_page_microsoft_365_button_in_language(chromium_page, live_server, language):
    """Choosing Microsoft 365 OAUTH shows the glossary's "Authenticate Microsoft 365" button."""
    UserCardFactory(
        code="MARI",
        language=language,
        mail_sender=MailSender.M365_OAUTH,
        mail_server="smtp.office365.com:587",
        ssl_tls="starttls",
    )
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    button = page.locator("[data-oauth365-start] button[type=submit]")
    assert button.inner_text().strip() == GLOSSARY[language]["authenticate"]
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_switcher_turns_card_page_into_language_and_keeps_it(
    chromium_context, live_server, language
):
    """The header switcher turns the page into the language, saves it on the card, keeps it."""
    card = UserCardFactory(code="MARI", language="")
    page = chromium_context.new_page()
    log_in(page, live_server, "MARI", URL)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Personal → User"

    page.locator(f"form.language-switcher button[value={language}]").click()
    page.wait_for_function(f"document.documentElement.lang === '{language}'")
    assert re.search(r"/personal/user/$", page.url)
    assert page.locator("h1").inner_text() == GLOSSARY[language]["personal_user"]
    assert UserCard.objects.get(pk=card.pk).language == language

    # Kept: the next page (and a reload of this one) stay in the chosen language.
    page.goto(f"{live_server.url}/deliverability/events/")
    assert page.locator("html").get_attribute("lang") == language
    page.goto(f"{live_server.url}{URL}")
    assert page.locator("h1").inner_text() == GLOSSARY[language]["personal_user"]
    page.wait_for_load_state("networkidle")
