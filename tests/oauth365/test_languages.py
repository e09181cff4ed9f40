"""Microsoft 365 texts in et, lv and pl: every cause, and the glossary's button and success."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from events.models import EventKind, MailEvent
from oauth365.causes import M365Cause
from oauth365.models import M365Connection
from tests.factories import UserCardFactory
from users.models import MailSender

LANGUAGES = ("et", "lv", "pl")
VALUES = {
    "code": "AADSTS123",
    "card": "KIVI",
    "host": "login.example.test",
    "authority": "https://login.example.test/tenant",
    "redirect_uri": "https://mail.example.test/oauth365/callback/",
    "account": "kivi@contoso.test",
    "other_card": "TAMM",
    "lapses": "2027-03-01",
    "since": "2026-12-01",
}
#: The dates of VALUES as each language writes them (Django's DATE_FORMAT of the language).
DATES = {
    "lapses": {"et": "1. märts 2027", "lv": "2027. gada 1. marts", "pl": "1 marca 2027"},
    "since": {"et": "1. detsember 2026", "lv": "2026. gada 1. decembris", "pl": "1 grudnia 2026"},
}
#: SPEC.md's glossary: (Authenticate Microsoft 365, Microsoft 365 has been authenticated).
GLOSSARY = {
    "et": ("Autendi Microsoft 365", "Microsoft 365 on autenditud"),
    "lv": ("Autentificēt Microsoft 365", "Microsoft 365 ir autentificēts"),
    "pl": ("Uwierzytelnij za pomocą Microsoft 365", "Microsoft 365 został uwierzytelniony"),
}
PASSWORD = "correct-horse-battery-staple"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("cause", list(M365Cause), ids=lambda c: c.value)
def test_m365_cause_renders_translated_with_placeholders_filled(cause, language):
    """Each M365Cause reads in the language, differs from English and keeps every value."""
    with translation.override("en"):
        english = cause.render(VALUES)
    with translation.override(language):
        text = cause.render(VALUES)
    assert text != english
    assert "{" not in text and "}" not in text
    for name in cause.placeholders - DATES.keys():
        assert VALUES[name] in text, name
    for name in cause.placeholders & DATES.keys():  # dates in the reader's format, never ISO
        assert DATES[name][language] in text and VALUES[name] not in text, name


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_personal_card_shows_the_glossary_button_and_success_text(client, language):
    """Personal → User shows the button and the success line in the glossary's exact words."""
    card = UserCardFactory(
        code="KIVI",
        email="kivi@contoso.test",
        mail_sender=MailSender.M365_OAUTH,
        smtp_username="kivi@contoso.test",
        language=language,
    )
    button, success = GLOSSARY[language]
    client.force_login(card.user)
    page = client.get("/personal/user/").content.decode()
    assert f'<button type="submit">{button}</button>' in page
    M365Connection.objects.create(card=card, token_cache="{}", account="kivi@contoso.test")
    status = client.get("/oauth365/status/").json()
    assert f"<strong>{success}</strong>" in status["html"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", LANGUAGES)
def test_popup_sign_in_in_the_card_language_uses_the_glossary(
    chromium_context, live_server, idp, settings, language
):
    """In the card's language the button and the success after the popup are the glossary's."""
    redirect_uri = f"{live_server.url}/oauth365/callback/"
    idp.redirect_uris.append(redirect_uri)
    idp.authorize_mode = "interactive"
    settings.OAUTH365_REDIRECT_URI = redirect_uri
    button, success = GLOSSARY[language]
    card = UserCardFactory(
        code="KIVI",
        email="kivi@contoso.test",
        mail_sender=MailSender.M365_OAUTH,
        mail_server="smtp.office365.com:587",
        smtp_username="kivi@contoso.test",
        language=language,
    )
    page = chromium_context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/personal/user/")
    page.fill("#id_username", "KIVI")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/personal/user/$"))
    start = page.locator("form[data-oauth365-start] button")
    assert start.inner_text().strip() == button

    with page.expect_popup() as popup_info:
        start.click()
    popup = popup_info.value
    popup.get_by_role("button", name="Accept").click()
    popup.wait_for_event("close")

    status = page.locator("[data-oauth365-status]")
    status.get_by_text(success, exact=True).wait_for()
    result = page.locator("[data-oauth365-result]")
    result.get_by_text(success, exact=True).wait_for()
    assert "kivi@contoso.test" in status.inner_text()
    assert M365Connection.objects.get(card=card).account == "kivi@contoso.test"


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_consent_expiring_event_shows_dates_in_the_readers_format(client, language):
    """The events page writes the consent's lapse date as the reader's language does, not ISO."""
    card = UserCardFactory(code="KIVI", language=language)
    params = {"account": "kivi@contoso.test", "lapses": "2027-03-01", "since": "2026-11-20"}
    MailEvent.objects.create(
        card=card,
        user_code=card.code,
        kind=EventKind.REAUTH_NEEDED,
        cause=M365Cause.CONSENT_EXPIRING,
        params=params,
        message=M365Cause.CONSENT_EXPIRING.render(params),
    )
    client.force_login(card.user)
    page = client.get(reverse("deliverability:events")).content.decode()
    with translation.override(language):
        since = date_format(date(2026, 11, 20), "DATE_FORMAT")
    assert DATES["lapses"][language] in page and since in page
    assert "2027-03-01" not in page and "2026-11-20" not in page
