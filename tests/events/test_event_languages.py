"""An event keeps its cause and parameters; its text is made in the reader's language (SPEC.md)."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.utils import translation

from events.models import EventKind, MailEvent
from events.services import event_record
from mailer.causes import MailCause
from tests.factories import UserCardFactory, UserFactory
from users.models import Language

pytestmark = pytest.mark.django_db

PARAMS = {"host": "smtp.example.test", "port": 2525}
LANGUAGES = ("en", "et", "lv", "pl")


def rendered(language: str) -> str:
    """Return the connection-refused text for PARAMS as `language` says it."""
    with translation.override(language):
        return MailCause.CONNECTION_REFUSED.render(PARAMS)


@pytest.fixture
def estonian_event() -> MailEvent:
    """A send failure recorded while Estonian was active (the text stored is Estonian)."""
    card = UserCardFactory(code="MARI", language=Language.ESTONIAN)
    with translation.override("et"):
        return event_record(
            card=card,
            kind=EventKind.SEND_FAILED,
            cause=MailCause.CONNECTION_REFUSED,
            message=MailCause.CONNECTION_REFUSED.render(PARAMS),
            params=PARAMS,
            recipient="customer@example.test",
        )


def test_event_cause_texts_differ_by_language():
    """The cause this module uses has its own text in each of the four languages."""
    texts = {language: rendered(language) for language in LANGUAGES}
    assert len(set(texts.values())) == len(LANGUAGES), texts
    assert all("smtp.example.test" in text and "2525" in text for text in texts.values())


@pytest.mark.parametrize("language", LANGUAGES)
def test_event_recorded_in_estonian_reads_in_the_readers_language(estonian_event, language):
    """An event stored in Estonian renders from its cause and parameters in any language."""
    event = MailEvent.objects.get(pk=estonian_event.pk)
    assert event.message == rendered("et")
    with translation.override(language):
        assert event.text == rendered(language)


def test_event_without_params_shows_the_text_as_recorded(estonian_event):
    """An old row (no parameters) shows the stored text whatever the reader's language."""
    MailEvent.objects.filter(pk=estonian_event.pk).update(params={})
    event = MailEvent.objects.get(pk=estonian_event.pk)
    with translation.override("pl"):
        assert event.text == rendered("et")


KIND_LABELS = {
    "en": ["Send failed", "Outcome unknown", "Bounce", "Re-authentication needed"],
    "et": ["Saatmine ebaõnnestus", "Tulemus teadmata", "Tagasipõrge", "Vajalik uuesti autentimine"],
    "lv": [
        "Nosūtīšana neizdevās",
        "Rezultāts nav zināms",
        "Atgriezts e-pasts",
        "Nepieciešama atkārtota autentifikācija",
    ],
    "pl": [
        "Wysyłka nie powiodła się",
        "Wynik nieznany",
        "Wiadomość zwrócona",
        "Wymagane ponowne uwierzytelnienie",
    ],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_event_kind_labels_in_each_language(language):
    """The event kinds are named in the active language."""
    kinds = [EventKind.SEND_FAILED, EventKind.SEND_UNKNOWN, EventKind.BOUNCE]
    kinds.append(EventKind.REAUTH_NEEDED)
    with translation.override(language):
        assert [str(kind.label) for kind in kinds] == KIND_LABELS[language]


def test_event_admin_shows_an_estonian_event_to_a_polish_administrator(estonian_event):
    """The admin's event log speaks the administrator's card language: kind, column and text."""
    boss = UserFactory(username="BOSS", is_staff=True, is_superuser=True)
    UserCardFactory(code="BOSS", user=boss, language=Language.POLISH)
    client = Client(headers={"accept_language": "et"})
    client.force_login(boss)
    response = client.get("/admin/events/mailevent/")
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Co się stało" in page  # the "What happened" column
    assert "Wysyłka nie powiodła się" in page  # EventKind.SEND_FAILED
    assert "Zdarzenia poczty" in page  # the app's name
    assert rendered("pl") in page
    assert rendered("et") not in page
