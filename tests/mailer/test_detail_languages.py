"""Details inside mail errors (what is missing, timeouts, XOAUTH2 refusals) read in et, lv, pl."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.mail import send_mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from events.models import MailEvent
from mailer.events import mail_event_record_failure
from mailer.exceptions import MailDeliveryError
from tests.factories import UserCardFactory
from tests.mailer.test_transport import BAD_TOKEN, USER, fail, transport_for
from tests.smtp_servers import XOAUTH2_SCOPE

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


#: Each language's word for the refused token's meaning, the fragment that must not remain.
TOKEN_WORDS = {"et": "tühistatud", "lv": "atsaukts", "pl": "unieważniony"}


def _event_texts(error) -> dict[str, str]:
    """Record the error as an event in English and return its text in each language."""
    card = UserCardFactory(code="KIVI")
    with translation.override("en"):
        event = mail_event_record_failure(card=card, error=error)
    texts = {}
    for language in TOKEN_WORDS:
        with translation.override(language):
            texts[language] = MailEvent.objects.get(pk=event.pk).text
    return texts


def test_xoauth2_refusal_meaning_reads_in_the_readers_language(smtp_server):
    """The decoded 334 status of a refused token is explained in et, lv and pl, values kept."""
    server = smtp_server(tls="starttls", xoauth2=True)
    transport = transport_for(server, "starttls", username=USER, xoauth2_token=lambda: BAD_TOKEN)
    error = fail(transport)
    assert "the token is invalid, expired or revoked" in error.params["detail"]
    for language, text in _event_texts(error).items():
        assert TOKEN_WORDS[language] in text, text
        assert "401" in text and XOAUTH2_SCOPE in text
        assert "the token is invalid" not in text and "required scope" not in text


def test_timeout_detail_reads_in_the_readers_language(silent_server):
    """A timeout while waiting at a step names the step in the reader's sentence."""
    error = fail(transport_for(silent_server, "ssl", timeout=0.5))
    assert error.params["detail"] == "no answer while waiting at step TLS"
    for text in _event_texts(error).values():
        assert "TLS" in text
        assert "no answer while" not in text and "waiting at step" not in text


def test_auth_not_offered_detail_names_the_mechanisms_in_the_readers_language(smtp_server):
    """A server offering only other mechanisms is named in the reader's sentence."""
    server = smtp_server(tls="starttls", xoauth2=False)
    transport = transport_for(server, "starttls", username=USER, xoauth2_token=lambda: "t")
    error = fail(transport)
    assert error.cause == "auth_not_offered"
    assert error.params["detail"].startswith("no XOAUTH2; it offers ")
    for text in _event_texts(error).values():
        assert "PLAIN" in text
        assert "it offers" not in text and "no XOAUTH2;" not in text


@pytest.mark.parametrize(
    ("language", "words"), [("et", "kaarti"), ("lv", "kartes"), ("pl", "karty")]
)
def test_unknown_sender_detail_reads_in_the_readers_language(settings, language, words):
    """The Django backend's "no card with e-mail" is said in the reader's language."""
    settings.MAILERS = settings.MAILERS | {
        "usercard": {"BACKEND": "mailer.backends.UserCardEmailBackend"}
    }
    with pytest.raises(MailDeliveryError) as caught:
        send_mail("Hello", "Body", "nobody@acme.test", ["a@example.test"], using="usercard")
    with translation.override(language):
        text = caught.value.message
    assert words in text and "nobody@acme.test" in text
    assert "no card with e-mail" not in text
