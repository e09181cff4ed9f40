"""The card, its form and its validation in English, Estonian, Latvian and Polish (SPEC.md)."""

from __future__ import annotations

import html
import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from tests.factories import SmtpCardFactory, UserCardFactory
from users.forms import PersonalCardForm
from users.models import Language, SslTls, SystemSettings, UserCard

pytestmark = pytest.mark.django_db

URL = "/personal/user/"

#: SPEC.md "Languages": the words Directo's users know; the card uses them exactly.
GLOSSARY = {
    "en": {
        "mail_sender": "Mail sender",
        "mail_server": "Mail server",
        "smtp_username": "Username",
        "smtp_password": "Password",
        "no": "No",
        "mail_sending_user_code": "Mail sending user code",
        "personal_user": "Personal → User",
    },
    "et": {
        "mail_sender": "Meili saatja",
        "mail_server": "Server ja port",
        "smtp_username": "Kasutaja",
        "smtp_password": "Parool",
        "no": "Ei",
        "mail_sending_user_code": "Meili saatmise kasutaja kood",
        "personal_user": "Isiklik → Kasutaja",
    },
    "lv": {
        "mail_sender": "E-pasta sūtītājs",
        "mail_server": "Serveris un ports",
        "smtp_username": "Lietotājs",
        "smtp_password": "Parole",
        "no": "Nē",
        "mail_sending_user_code": "Pasta sūtīšanas lietotāja kods",
        "personal_user": "Personāls → Lietotājs",
    },
    "pl": {
        "mail_sender": "Nadawca wiadomości e-mail",
        "mail_server": "Serwer poczty mailowej i port",
        "smtp_username": "Nazwa użytkownika",
        "smtp_password": "Hasło",
        "no": "Nie",
        "mail_sending_user_code": "Kod użytkownika wysyłającego e-mail",
        "personal_user": "Osobiste → Użytkownik",
    },
}
LANGUAGES = list(GLOSSARY)
CARD_LABELS = ("mail_sender", "mail_server", "smtp_username", "smtp_password")

#: The port refusal and the SSL/TLS "No" warning as each language says them.
PORT_REFUSED = {
    "en": "Port 2525 is not allowed: use 465 (SSL), 587 (StartTLS) or 25 (StartTLS).",
    "et": "Port 2525 ei ole lubatud: kasutage porti 465 (SSL), 587 (StartTLS) või 25 (StartTLS).",
    "lv": "Ports 2525 nav atļauts: izmantojiet 465 (SSL), 587 (StartTLS) vai 25 (StartTLS).",
    "pl": "Port 2525 jest niedozwolony: użyj 465 (SSL), 587 (StartTLS) lub 25 (StartTLS).",
}
NO_ON_587 = {
    "en": "SSL/TLS is “No” on port 587",
    "et": "SSL/TLS on pordil 587 „Ei“",
    "lv": "SSL/TLS ir „Nē” portam 587",
    "pl": "SSL/TLS ma wartość „Nie” na porcie 587",
}


def page_text(response) -> str:
    """Return the page's HTML with entities decoded (Django escapes quotes and arrows)."""
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


def label_of(page: str, field: str) -> str:
    """Return the text of the <label> of a card field, without Django's label suffix."""
    match = re.search(rf'<label for="id_{field}"[^>]*>([^<]*)</label>', page)
    assert match, f"no label for {field}"
    return match.group(1).strip().removesuffix(":")


def signed_in(card: UserCard, **headers: str) -> Client:
    client = Client(headers=headers)
    client.force_login(card.user)
    return client


@pytest.mark.parametrize("language", LANGUAGES)
def test_card_labels_are_the_glossary_in_the_card_language(language):
    """Personal → User labels Mail sender, Mail server, Username, Password with SPEC's words."""
    card = SmtpCardFactory(code="MARI", language=language)
    page = page_text(signed_in(card, accept_language="en").get(URL))
    words = GLOSSARY[language]
    assert {field: label_of(page, field) for field in CARD_LABELS} == {
        field: words[field] for field in CARD_LABELS
    }
    assert f'<option value="no">{words["no"]}</option>' in page
    assert f">{words['personal_user']}</a>" in page


@pytest.mark.parametrize("language", ["et", "lv", "pl"])
def test_card_labels_follow_accept_language_when_card_language_blank(language):
    """A blank card language shows the glossary's labels in the browser's language."""
    card = SmtpCardFactory(code="MARI", language="")
    page = page_text(signed_in(card, accept_language=language).get(URL))
    assert label_of(page, "mail_sender") == GLOSSARY[language]["mail_sender"]
    assert label_of(page, "smtp_password") == GLOSSARY[language]["smtp_password"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_card_form_texts_are_translated(language):
    """The form's own texts (stored password, automatic, browser) are in the active language."""
    card = SmtpCardFactory(code="MARI", language=language)
    with translation.override(language):
        form = PersonalCardForm(instance=card)
        texts = {
            "stored": str(form.fields["smtp_password"].help_text),
            "automatic": str(dict(form.fields["ssl_tls"].choices)[""]),
            "browser": str(dict(form.fields["language"].choices)[""]),
        }
    expected = {
        "en": ("A password is stored.", "(automatic)", "(as the browser says)"),
        "et": ("Parool on salvestatud.", "(automaatne)", "(brauseri järgi)"),
        "lv": ("Parole ir saglabāta.", "(automātiski)", "(pēc pārlūkprogrammas)"),
        "pl": ("Hasło jest zapisane.", "(automatycznie)", "(według przeglądarki)"),
    }[language]
    assert texts["stored"].startswith(expected[0])
    assert (texts["automatic"], texts["browser"]) == expected[1:]


@pytest.mark.parametrize("language", LANGUAGES)
def test_system_settings_mail_sending_user_code_label_is_the_glossary(language):
    """The system setting is labelled "Mail sending user code" in the glossary's words."""
    field = SystemSettings._meta.get_field("mail_sending_user_code")
    with translation.override(language):
        label = str(field.verbose_name)
    assert label[:1].upper() + label[1:] == GLOSSARY[language]["mail_sending_user_code"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_ssl_tls_no_is_the_glossary_word_not_the_yes_no_word(language):
    """SslTls.NO reads Ei / Nē / Nie (pgettext "SSL/TLS"), the product names stay as they are."""
    with translation.override(language):
        labels = {value: str(label) for value, label in SslTls.choices}
    assert labels == {
        "no": GLOSSARY[language]["no"],
        "ssl": "SSL",
        "starttls": "StartTLS / SSL / TLS",
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_card_port_refusal_is_in_the_card_language(language, card_post_data):
    """Port 2525 is refused in the reader's language, naming the allowed ports."""
    card = SmtpCardFactory(code="MARI", language=language)
    data = card_post_data(card, code=None, mail_server="smtp.example.test:2525")
    page = page_text(signed_in(card).post(URL, data))
    assert PORT_REFUSED[language] in page
    card.refresh_from_db()
    assert card.mail_server == "smtp.example.test:587"


@pytest.mark.parametrize("language", LANGUAGES)
def test_card_ssl_tls_warning_is_in_the_card_language(language, card_post_data):
    """The SSL/TLS "No" warning after saving uses the glossary's "No" of that language."""
    card = SmtpCardFactory(code="MARI", language=language)
    data = card_post_data(card, code=None, ssl_tls="no")
    page = page_text(signed_in(card).post(URL, data, follow=True))
    assert NO_ON_587[language] in page


def test_card_validation_follows_the_active_language():
    """The same invalid card reads in whichever language is active when it is validated."""
    card = UserCardFactory.build(code="MARI", mail_server="smtp.example.test:2525")
    messages = {}
    for language in LANGUAGES:
        with translation.override(language), pytest.raises(ValidationError) as raised:
            card.clean()
        messages[language] = " ".join(raised.value.message_dict["mail_server"])
    assert messages == PORT_REFUSED


def test_card_language_names_are_translated():
    """The card's Language choices are named in the active language."""
    names = {}
    for language in LANGUAGES:
        with translation.override(language):
            names[language] = [str(label) for label in Language.labels]
    assert names == {
        "en": ["English", "Estonian", "Latvian", "Polish"],
        "et": ["Inglise", "Eesti", "Läti", "Poola"],
        "lv": ["Angļu", "Igauņu", "Latviešu", "Poļu"],
        "pl": ["Angielski", "Estoński", "Łotewski", "Polski"],
    }


#: Header link to the card, events link, admin link, log-out button, login page heading.
NAVIGATION = {
    "en": ["Personal → User", "My mail events", "Administration", "Log out (BOSS)", "Log in"],
    "et": [
        "Isiklik → Kasutaja",
        "Minu meilisündmused",
        "Administreerimine",
        "Logi välja (BOSS)",
        "Sisene",
    ],
    "lv": [
        "Personāls → Lietotājs",
        "Mani e-pasta notikumi",
        "Pārvaldīšana",
        "Iziet (BOSS)",
        "Pieteikties",
    ],
    "pl": [
        "Osobiste → Użytkownik",
        "Moje zdarzenia poczty",
        "Administracja",
        "Wyloguj (BOSS)",
        "Zaloguj się",
    ],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_header_navigation_and_login_page_in_each_language(language):
    """The header's links, the log-out button and the login page speak the page's language."""
    card = SmtpCardFactory(code="BOSS", language=language)
    card.user.is_staff = True
    card.user.save()
    personal, events, admin, log_out, log_in = NAVIGATION[language]
    page = page_text(signed_in(card).get(URL))
    for text in (personal, events, admin, log_out):
        assert f">{text}</" in page, text
    login = page_text(Client(headers={"accept_language": language}).get("/accounts/login/"))
    assert f"<h1>{log_in}</h1>" in login
    # The switcher still names each language in its own name.
    assert ">Eesti</button>" in login and ">Polski</button>" in login
