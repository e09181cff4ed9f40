"""EncryptedTextField and its keys (SPEC.md: FIELD_ENCRYPTION_KEYS, secrets at rest)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import TEST_KEYS, use_keys
from tests.factories import SmtpCardFactory, UserCardFactory
from users import crypto
from users.exceptions import EncryptionKeyError
from users.models import UserCard

OLD, NEW = TEST_KEYS


def raw_password(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT smtp_password FROM users_usercard WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_encrypted_field_wrong_key_raises_named_error_and_keeps_row(settings):
    """Loading a secret under an unknown key raises EncryptionKeyError; the row is unchanged."""
    card = SmtpCardFactory(smtp_password="kept-secret")
    before = raw_password(card.pk)
    use_keys(settings, NEW)
    with pytest.raises(EncryptionKeyError, match="FIELD_ENCRYPTION_KEYS"):
        UserCard.objects.get(pk=card.pk)
    assert raw_password(card.pk) == before
    use_keys(settings, OLD)
    assert UserCard.objects.get(pk=card.pk).smtp_password.reveal() == "kept-secret"


@pytest.mark.django_db
def test_encrypted_field_error_never_contains_the_secret(settings):
    """The wrong-key error names the fix but neither the secret nor its token."""
    card = SmtpCardFactory(smtp_password="never-show-me")
    token = raw_password(card.pk)
    use_keys(settings, NEW)
    with pytest.raises(EncryptionKeyError) as excinfo:
        UserCard.objects.get(pk=card.pk)
    assert "never-show-me" not in str(excinfo.value)
    assert token not in str(excinfo.value)
    assert "rotate_encryption_keys" in str(excinfo.value)


@pytest.mark.django_db
def test_encrypted_field_old_key_still_decrypts_after_new_key_first(settings):
    """With the new key first and the old one after it, old values still load."""
    card = SmtpCardFactory(smtp_password="from-before")
    use_keys(settings, NEW, OLD)
    assert UserCard.objects.get(pk=card.pk).smtp_password.reveal() == "from-before"
    card.smtp_password = "written-now"
    card.save()
    assert Fernet(NEW).decrypt(raw_password(card.pk).encode()) == b"written-now"


@pytest.mark.django_db
def test_encrypted_field_stores_empty_secret_as_empty_string():
    """An empty secret is stored as '' (unencrypted), so "not set" stays queryable."""
    card = UserCardFactory(smtp_password="")
    assert raw_password(card.pk) == ""
    assert UserCard.objects.filter(smtp_password="").filter(pk=card.pk).exists()
    assert UserCard.objects.get(pk=card.pk).smtp_password.reveal() == ""


def test_fernet_keys_missing_outside_development_is_improperly_configured(settings):
    """No key outside development stops with a message naming FIELD_ENCRYPTION_KEYS."""
    settings.DEVELOPMENT = False
    use_keys(settings)
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is not set"):
        crypto.fernet_keys()
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        crypto.secret_encrypt("x")


def test_fernet_keys_malformed_key_is_improperly_configured(settings):
    """A key that is not a Fernet key is refused, naming the variable and its position."""
    use_keys(settings, OLD, "not-a-fernet-key")
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS: key #2"):
        crypto.fernet_keys()


def test_fernet_keys_development_uses_local_key_file(settings, tmp_path):
    """In development without keys a random key is created once in the key file and reused."""
    settings.DEVELOPMENT = True
    settings.FIELD_ENCRYPTION_DEV_KEY_FILE = tmp_path / "var" / "dev.key"
    use_keys(settings)
    token = crypto.secret_encrypt("dev-secret")
    key_file = tmp_path / "var" / "dev.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    crypto.fernet_keys.cache_clear()
    assert crypto.secret_decrypt(token) == "dev-secret"
    assert Fernet(key_file.read_bytes().strip()).decrypt(token.encode()) == b"dev-secret"


def test_secret_needs_rotation_only_for_tokens_not_under_first_key(settings):
    """A token under the first key is current; one under a later key needs rotation."""
    old_token = Fernet(OLD).encrypt(b"s").decode()
    use_keys(settings, NEW, OLD)
    assert crypto.secret_needs_rotation(old_token)
    rotated = crypto.secret_rotate(old_token)
    assert not crypto.secret_needs_rotation(rotated)
    assert crypto.secret_decrypt(rotated) == "s"


@hypothesis_settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(min_size=1))
def test_secret_encrypt_round_trips_any_text(secret):
    """Any text, including non-ASCII, decrypts back to itself from a Fernet token."""
    token = crypto.secret_encrypt(secret)
    assert crypto.secret_decrypt(token) == secret
    assert token.startswith("gAAAA") and token != secret
