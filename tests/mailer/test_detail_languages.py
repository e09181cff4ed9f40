"""Details inside mail errors (what is missing, timeouts, XOAUTH2 refusals) read in et, lv, pl."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from events.models import MailEvent
from tests.factories import UserCardFactory

pytestmark = pytest.mark.django_db

#: The glossary's Mail server and the start of the missing item, in each language.
MAIL_SERVER = {
    "et": ("Server ja port", "pärast ühendamist pole meiliserverit"),
    "lv": ("Serveri un portu", "pēc apvienošanas nav pasta servera"),
    "pl": ("Serwer poczty mailowej i port", "po scaleniu brak serwera poczty"),
}


def _events_page(code: str, language: str) -> str:
    card = UserCardFactory._meta.model.objects.get(code=code)
    card.language = language
    card.save(update_fields=["language"])
    client = Client()
    client.force_login(card.user)
    return client.get(reverse("deliverability:events")).content.decode()


@pytest.mark.parametrize("language", sorted(MAIL_SERVER))
def test_settings_incomplete_event_names_what_is_missing_in_the_readers_language(language):
    """A settings-incomplete event recorded in English shows each missing item translated."""
    UserCardFactory(code="NOSRV", email="n@acme.test", mail_sender="smtp")
    with pytest.raises(CommandError):
        call_command("sendtestmail", "NOSRV", "--to", "c@example.test", stdout=StringIO())
    event = MailEvent.objects.get(user_code="NOSRV")
    assert "no mail server after merging" in event.message  # recorded in English
    page = _events_page("NOSRV", language)
    glossary, start = MAIL_SERVER[language]
    assert glossary in page and start in page
    assert "mail_server: " in page  # the setting's key stays as it is
    assert "no mail server after merging" not in page
    assert "set Mail server" not in page
