"""Mail errors, the resolver's `missing` texts and the test transcript speak et, lv and pl."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from django.utils import translation

from mailer.causes import MailCause
from mailer.config import CardSettings, sender_config_resolve
from mailer.platform import Platform
from mailer.services import sender_config_get
from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from users.models import MailSender

LANGUAGES = ("et", "lv", "pl")
#: A value for every placeholder a template may name; each is recognisable in the text.
VALUES = {
    "host": "smtp.example.test",
    "port": 2525,
    "step": "RCPT",
    "recipient": "anna@example.test",
    "detail": "detail-xyz",
    "smtp_code": 550,
    "smtp_reply": "reply-xyz",
    "transient": 1,
    "field": "field-xyz",
    "limit": 7,
}


def _rendered(cause: MailCause, language: str) -> str:
    with translation.override(language):
        return cause.render(VALUES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("cause", list(MailCause), ids=lambda c: c.value)
def test_mail_cause_renders_translated_with_placeholders_filled(cause, language):
    """Each MailCause reads in the language, differs from English and keeps every value."""
    english, text = _rendered(cause, "en"), _rendered(cause, language)
    assert text != english
    assert "{" not in text and "}" not in text
    for name in cause.placeholders - {"said", "temporary"}:
        assert str(VALUES[name]) in text, name
    if "said" in cause.placeholders:  # the server's own words stay as they were
        assert "550 reply-xyz" in text and "The server said" not in text
    if "temporary" in cause.placeholders:
        assert "The refusal is temporary" not in text


@pytest.mark.parametrize(
    ("language", "words"),
    [("et", "meiliserver"), ("lv", "pasta serveris"), ("pl", "serwer poczty")],
)
def test_mail_cause_fragments_are_translated_when_rendered(language, words):
    """A failure without a host names "the mail server" in the reader's language."""
    with translation.override(language):
        text = MailCause.CONNECTION_LOST.render({"detail": "the certificate has expired"})
    assert words in text.lower()
    assert "the certificate has expired" not in text


def _platform() -> Platform:
    return Platform(relay_host="relay.directo.test", relay_port=587, relay_ssl_tls="starttls")


@pytest.mark.parametrize("language", LANGUAGES)
def test_missing_texts_follow_the_active_language_and_keep_their_key(language):
    """`missing` names the setting (untranslated key) and what to do, in the reader's language."""
    user = CardSettings(code="KIVI", email="", mail_sender=MailSender.SMTP, smtp_password="x")

    def resolve() -> tuple[str, ...]:
        return sender_config_resolve(user=user, global_card=None, platform=_platform()).missing

    english = resolve()
    with translation.override(language):
        translated = resolve()
    assert [item.split(":")[0] for item in translated] == [item.split(":")[0] for item in english]
    assert {"email", "mail_server", "smtp_username"} <= {item.split(":")[0] for item in english}
    for before, after in zip(english, translated, strict=True):
        assert after != before and "KIVI" in after


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_mass_mail_refusal_follows_the_active_language(language):
    """The card page's refusal reads in the reader's language and names the card."""
    card = UserCardFactory(code="DIR", email="dir@acme.test")
    english = sender_config_get(card=card).mass_mail_refusal()
    with translation.override(language):
        text = sender_config_get(card=card).mass_mail_refusal()
    assert english and text and text != english and "DIR" in text


def _mail_settings_json(code: str) -> str:
    out = io.StringIO()
    call_command("mail_settings", code, "--json", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_mail_settings_json_is_unchanged_under_another_language(language):
    """`mail_settings --json` prints the same English `missing` whatever the card's language."""
    SmtpCardFactory(code="MAILER", email="mailer@acme.test", mail_server="smtp.zone.eu:465")
    system_settings_set(mail_sending_user_code="MAILER", company_name="Acme Trading")
    card = UserCardFactory(code="KIVI", email="", mail_sender=MailSender.M365_OAUTH)
    english = _mail_settings_json("KIVI")
    card.language = language
    card.save()
    with translation.override(language):
        translated = _mail_settings_json("KIVI")
    assert translated == english
    missing = json.loads(english)["missing"]
    assert any(item.startswith("email: card KIVI has no e-mail address") for item in missing)
    assert any(re.match(r"m365_token: .*click Authenticate Microsoft 365", i) for i in missing)
