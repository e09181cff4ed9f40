"""The interface language (SPEC.md "Languages"): the card's, else the browser's, else English."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.test import Client

from tests.factories import UserCardFactory, UserFactory
from users.models import CARD_FIELDS, Language, UserCard

pytestmark = pytest.mark.django_db

CARD_URL = "/personal/user/"
LOGIN_URL = "/accounts/login/"
SETLANG_URL = "/i18n/setlang/"


def html_lang(response) -> str:
    """Return the lang attribute of the page's <html> element."""
    match = re.search(r"<html lang=\"([^\"]*)\"", response.content.decode())
    assert match, response.content.decode()[:300]
    return match.group(1)


def signed_in(card: UserCard, **headers: str) -> Client:
    """Return a new client (another browser) signed in as the card's user."""
    client = Client(headers=headers)
    client.force_login(card.user)
    return client


def test_language_choices_match_settings_languages():
    """The card's choices are the codes of settings.LANGUAGES: en, et, lv, pl; English first."""
    assert [code for code, _ in settings.LANGUAGES] == Language.values == ["en", "et", "lv", "pl"]
    assert settings.LANGUAGE_CODE == "en"
    assert settings.USE_I18N and settings.USE_TZ
    assert "language" in CARD_FIELDS


def test_language_middleware_order():
    """LocaleMiddleware sits between sessions and common; the card's comes after auth."""
    chain = settings.MIDDLEWARE
    locale = chain.index("django.middleware.locale.LocaleMiddleware")
    card = chain.index("directo_mail.language.CardLanguageMiddleware")
    assert chain.index("django.contrib.sessions.middleware.SessionMiddleware") < locale
    assert locale < chain.index("django.middleware.common.CommonMiddleware")
    assert chain.index("django.contrib.auth.middleware.AuthenticationMiddleware") < card


def test_language_card_wins_over_browser():
    """A card language is the page's language whatever the browser asks for."""
    card = UserCardFactory(code="MARI", language=Language.ESTONIAN)
    response = signed_in(card, accept_language="pl,en;q=0.5").get(CARD_URL)
    assert html_lang(response) == "et"
    assert response.headers["Content-Language"] == "et"


def test_language_card_wins_over_switcher_cookie():
    """A card language beats a language cookie left behind on a shared computer."""
    card = UserCardFactory(code="MARI", language=Language.LATVIAN)
    client = signed_in(card)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "et"
    assert html_lang(client.get(CARD_URL)) == "lv"


def test_language_blank_card_follows_browser():
    """A blank card language follows Accept-Language."""
    card = UserCardFactory(code="MARI", language="")
    assert html_lang(signed_in(card, accept_language="lv").get(CARD_URL)) == "lv"


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [("pl-PL,pl;q=0.9,en;q=0.8", "pl"), ("et", "et"), ("de-DE,fr;q=0.8", "en"), ("", "en")],
)
def test_language_anonymous_follows_browser_else_english(accept_language, expected):
    """Without a card the browser's language is used when offered, otherwise English."""
    headers = {"accept_language": accept_language} if accept_language else {}
    response = Client(headers=headers).get(LOGIN_URL)
    assert html_lang(response) == expected


def test_language_switcher_cookie_wins_over_browser_without_card():
    """The switcher's cookie beats Accept-Language when no card language is set."""
    client = Client(headers={"accept_language": "pl"})
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "lv"
    assert html_lang(client.get(LOGIN_URL)) == "lv"


def test_language_admin_follows_card_language():
    """Django's admin speaks the card's language with its own translations."""
    user = UserFactory(username="BOSS", is_staff=True, is_superuser=True)
    card = UserCardFactory(code="BOSS", user=user, language=Language.ESTONIAN)
    client = signed_in(card, accept_language="en")
    index = client.get("/admin/")
    assert html_lang(index) == "et"
    assert "Logi välja" in index.content.decode()
    change = client.get(f"/admin/users/usercard/{card.pk}/change/").content.decode()
    assert "Salvesta" in change
    assert 'name="language"' in change


def test_language_switcher_lists_each_language_in_its_own_name():
    """The header switcher offers English, Eesti, Latviešu and Polski; the current one is off."""
    page = Client(headers={"accept_language": "lv"}).get(LOGIN_URL).content.decode()
    form = page[page.rindex("<form", 0, page.index("language-switcher")) :]
    form = form[: form.index("</form>")]
    buttons = re.findall(r'<button[^>]*value="(\w+)"[^>]*>([^<]+)</button>', form)
    assert buttons == [("en", "English"), ("et", "Eesti"), ("lv", "Latviešu"), ("pl", "Polski")]
    assert re.search(r'value="lv" lang="lv"[^>]*aria-current="true" disabled', form)
    assert 'action="/i18n/setlang/"' in form


def test_language_switcher_saves_card_language_and_keeps_it():
    """Switching saves the card's language, so another device opens in it too."""
    card = UserCardFactory(code="MARI", language="")
    client = signed_in(card, accept_language="en")
    response = client.post(SETLANG_URL, {"language": "pl", "next": CARD_URL})
    assert response.status_code == 302 and response.url == CARD_URL
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pl"
    card.refresh_from_db()
    assert card.language == "pl"
    assert html_lang(client.get(CARD_URL)) == "pl"
    # Another browser: no cookie, an English Accept-Language; the card decides.
    assert html_lang(signed_in(card, accept_language="en").get(CARD_URL)) == "pl"


def test_language_switcher_refuses_unknown_language():
    """A code outside en, et, lv, pl leaves the card as it was; a cookie naming it is ignored."""
    card = UserCardFactory(code="MARI", language="")
    client = signed_in(card, accept_language="lv")
    response = client.post(SETLANG_URL, {"language": "de", "next": CARD_URL})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.language == ""
    # Django sets a cookie for any language it has a catalog of; negotiation skips it.
    assert html_lang(client.get(CARD_URL)) == "lv"


def test_language_switcher_get_changes_nothing():
    """Only a POST switches, as with Django's set_language."""
    card = UserCardFactory(code="MARI", language="")
    response = signed_in(card).get(SETLANG_URL, {"language": "et", "next": CARD_URL})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.language == ""


def test_language_switcher_without_card_sets_cookie_only():
    """Anonymous visitors (and accounts without a card) switch by the cookie alone."""
    client = Client(headers={"accept_language": "en"})
    response = client.post(SETLANG_URL, {"language": "et", "next": LOGIN_URL})
    assert response.status_code == 302 and response.url == LOGIN_URL
    assert html_lang(client.get(LOGIN_URL)) == "et"
    assert not UserCard.objects.exists()


def test_language_switcher_never_redirects_off_site():
    """The next URL must be on this site (Django's own check)."""
    response = Client().post(SETLANG_URL, {"language": "et", "next": "https://evil.test/"})
    assert response.status_code == 302 and not response.url.startswith("https://evil.test")


def test_language_html_lang_follows_active_language_on_oauth_pages():
    """Every base template names the active language, not a fixed "en"."""
    for path in (
        "directo_mail/templates/base.html",
        "oauth365/templates/oauth365/callback.html",
    ):
        text = (settings.BASE_DIR / path).read_text()
        assert '<html lang="{{ LANGUAGE_CODE }}">' in text, path
    for template in settings.BASE_DIR.glob("*/templates/**/*.html"):
        assert '<html lang="en"' not in template.read_text(), template


def test_language_personal_card_form_saves_language(card_post_data):
    """Personal → User shows the language and saves it; the page then speaks it."""
    card = UserCardFactory(code="MARI", language="")
    client = signed_in(card, accept_language="en")
    page = client.get(CARD_URL).content.decode()
    assert 'name="language"' in page
    assert re.search(r'<option value="" selected>\(as the browser says\)</option>', page)
    response = client.post(CARD_URL, card_post_data(card, code=None, language="lv"))
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.language == "lv"
    assert html_lang(client.get(CARD_URL)) == "lv"
    client.post(CARD_URL, card_post_data(card, code=None, language=""))
    card.refresh_from_db()
    assert card.language == ""


def test_language_personal_card_form_refuses_unknown_language(card_post_data):
    """A language outside en, et, lv, pl is a field error and nothing is saved."""
    card = UserCardFactory(code="MARI", language="en")
    response = signed_in(card).post(CARD_URL, card_post_data(card, code=None, language="de"))
    assert response.status_code == 200
    assert "de is not one of the available choices" in response.content.decode()
    card.refresh_from_db()
    assert card.language == "en"


def test_language_database_refuses_unknown_value():
    """The database itself refuses a language outside the choices."""
    card = UserCardFactory(code="MARI")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserCard.objects.filter(pk=card.pk).update(language="de")


def _export() -> dict:
    out = io.StringIO()
    call_command("export_usercards", stdout=out)
    return json.loads(out.getvalue())


def _import(tmp_path, document: object) -> None:
    path = tmp_path / "cards.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    call_command("import_usercards", str(path), stdout=io.StringIO(), stderr=io.StringIO())


def test_language_export_import_round_trip(tmp_path):
    """Export writes each card's language; importing it back gives the same document."""
    for code, language in (("ANNE", "pl"), ("KIVI", ""), ("LIIS", "et"), ("MARI", "lv")):
        UserCardFactory(code=code, language=language)
    first = _export()
    assert {row["code"]: row["language"] for row in first["user_cards"]} == {
        "ANNE": "pl",
        "KIVI": "",
        "LIIS": "et",
        "MARI": "lv",
    }
    UserCard.objects.all().delete()
    _import(tmp_path, first)
    assert _export() == first


def test_language_import_optional_blank_when_absent(tmp_path):
    """A new card without a language is blank; an existing card keeps its own."""
    UserCardFactory(code="MARI", language="lv")
    _import(tmp_path, {"user_cards": [{"code": "KIVI"}, {"code": "MARI", "name": "Mari"}]})
    assert UserCard.objects.get(code="KIVI").language == ""
    assert UserCard.objects.get(code="MARI").language == "lv"


@pytest.mark.parametrize("bad", ["de", "ET", "Estonian", 7])
def test_language_import_refuses_bad_value_naming_row_and_field(tmp_path, bad):
    """A language outside "", en, et, lv, pl stops the import; the error names row and field."""
    with pytest.raises(CommandError) as excinfo:
        _import(tmp_path, {"user_cards": [{"code": "GOOD"}, {"code": "BAD", "language": bad}]})
    assert "row 2 (BAD) language:" in str(excinfo.value)
    assert not UserCard.objects.exists()
