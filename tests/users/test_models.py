"""Rules of the user card and the system settings (SPEC.md)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.db.models import ProtectedError

from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from users.models import SystemSettings, UserCard
from users.services import usercard_get_by_code

pytestmark = pytest.mark.django_db


def test_usercard_password_is_encrypted_at_rest():
    """The password column holds a Fernet token, never the plaintext."""
    card = SmtpCardFactory(smtp_password="plain-secret-123")
    with connection.cursor() as cursor:
        cursor.execute("SELECT smtp_password FROM users_usercard WHERE id = %s", [card.pk])
        (raw,) = cursor.fetchone()
    assert "plain-secret-123" not in raw
    assert raw.startswith("gAAAA")
    assert UserCard.objects.get(pk=card.pk).smtp_password.reveal() == "plain-secret-123"


def test_usercard_code_is_unique_case_insensitively():
    """Two cards cannot share a code that differs only in case."""
    UserCardFactory(code="KIVI")
    with pytest.raises(IntegrityError):
        UserCardFactory(code="kivi", user__username="kivi-2")


def test_usercard_get_by_code_ignores_case_and_outer_spaces():
    """A code finds its card in any case and with spaces around it; an unknown code finds None."""
    card = UserCardFactory(code="KIVI")
    assert usercard_get_by_code(code=" kivi ") == card
    assert UserCard.objects.defer("smtp_password").by_code("Kivi") == card
    assert usercard_get_by_code(code="MARI") is None


def test_usercard_clean_refuses_basic_auth_for_microsoft_365():
    """Username and password on a Microsoft 365 host point the user to OAUTH."""
    card = SmtpCardFactory.build(mail_server="smtp.office365.com:587")
    with pytest.raises(ValidationError) as excinfo:
        card.clean()
    assert "Microsoft 365 OAUTH" in str(excinfo.value.message_dict["mail_sender"])


def test_usercard_clean_strips_gmail_app_password_spaces():
    """A Gmail app password typed with Google's spaces is stored without them."""
    card = SmtpCardFactory.build(
        mail_server="smtp.gmail.com:465", ssl_tls="ssl", smtp_password="abcd efgh ijkl mnop"
    )
    card.clean()
    assert card.smtp_password.reveal() == "abcdefghijklmnop"


def test_usercard_clean_normalizes_mail_server():
    """The server is stored lower-cased in its canonical host:port form."""
    card = SmtpCardFactory.build(mail_server=" SMTP.Zone.EU:465 ")
    card.clean()
    assert card.mail_server == "smtp.zone.eu:465"


def test_usercard_full_clean_refuses_crlf_in_every_text_field():
    """CR/LF in any text field is a validation error on that field."""
    card = SmtpCardFactory.build(name="Evil\r\nBcc: x@y", smtp_username="a\nb")
    with pytest.raises(ValidationError) as excinfo:
        card.full_clean(exclude=["user"])
    assert {"name", "smtp_username"} <= set(excinfo.value.message_dict)


def test_usercard_warnings_name_the_ssl_fix():
    """SSL/TLS that does not suit the port is a warning, not an error."""
    card = SmtpCardFactory.build(mail_server="smtp.example.test:465", ssl_tls="starttls")
    card.clean()
    assert any("“SSL”" in warning for warning in card.warnings())


def test_system_settings_requires_existing_server_mode_card():
    """The mail sending user code must name an existing SMTP or Microsoft 365 card."""
    UserCardFactory(code="DIRECT")
    settings_row = SystemSettings.load()
    settings_row.mail_sending_user_code = "NOBODY"
    with pytest.raises(ValidationError, match="No user card"):
        settings_row.full_clean()
    settings_row.mail_sending_user_code = "direct"
    with pytest.raises(ValidationError, match="must use SMTP or Microsoft 365 OAUTH"):
        settings_row.full_clean()
    SmtpCardFactory(code="MAILER")
    settings_row.mail_sending_user_code = "mailer"
    settings_row.full_clean()
    assert settings_row.mail_sending_user_code == "MAILER"


def test_global_card_cannot_switch_mode_or_be_deleted():
    """The card named by the system setting keeps a server mode and cannot be deleted."""
    card = SmtpCardFactory(code="MAILER")
    system_settings_set(mail_sending_user_code="MAILER")
    card.mail_sender = "directo"
    with pytest.raises(ValidationError) as excinfo:
        card.full_clean()
    assert "mail sending user" in str(excinfo.value.message_dict["mail_sender"])
    with pytest.raises(ProtectedError):
        UserCard.objects.get(pk=card.pk).delete()
    assert UserCard.objects.filter(pk=card.pk).exists()


def test_system_settings_event_mailbox_uses_company_slug():
    """The event mailbox address is the company slug at the event domain."""
    row = system_settings_set(company_name="Acme Trading")
    assert row.event_mailbox_address() == "acme-trading@event.data.directo.ee"


def test_system_settings_is_a_singleton():
    """Saving a second settings row overwrites the first."""
    SystemSettings(company_name="One").save()
    SystemSettings(company_name="Two").save()
    assert SystemSettings.objects.count() == 1
    assert SystemSettings.load().company_name == "Two"
