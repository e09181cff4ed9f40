"""EncryptedTextField: a text column whose value is stored as a Fernet token."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from users.crypto import secret_decrypt, secret_encrypt
from users.exceptions import EncryptionKeyError
from users.secrets import Secret, secret_reveal

#: Where an instance keeps the names of the secret fields assigned since it was loaded.
ENTERED_KEY = "_secrets_entered"


class SecretAttribute(DeferredAttribute):
    """Wrap whatever is assigned to the field in a Secret, so the attribute is never plaintext.

    It also notes that a secret was entered (assigned anew, even the same text) since the row was
    loaded; assigning back the very object that was loaded ("blank keeps the stored password")
    is not an entry.
    """

    def __set__(self, instance: models.Model, value: Any) -> None:
        if value is not None and not isinstance(value, Secret):
            value = Secret(value)
        data = instance.__dict__
        if data.get(self.field.attname) is not value:
            data.setdefault(ENTERED_KEY, set()).add(self.field.attname)
        data[self.field.attname] = value


def secret_entered(instance: models.Model, attname: str) -> bool:
    """Return whether the secret field was assigned since the instance was loaded or saved."""
    return attname in instance.__dict__.get(ENTERED_KEY, ())


def secrets_entered_forget(instance: models.Model, attnames: Any = None) -> None:
    """Forget the entries (all, or of the given fields): the instance now matches its row."""
    entered = instance.__dict__.get(ENTERED_KEY)
    if entered is None:
        return
    if attnames is None:
        entered.clear()
    else:
        entered.difference_update(attnames)


class EncryptedTextField(models.TextField):
    """Hold a secret as a `Secret` in Python and as a Fernet token in the database.

    An empty value is stored as an empty string, unencrypted, so "not set" stays queryable.
    A token that no configured key opens raises EncryptionKeyError on load; the row is never
    rewritten by this field. Serializers (`dumpdata`) write the Fernet token, never the plaintext,
    and `loaddata` reads it back with the same keys.
    """

    description = "Text encrypted at rest with Fernet keys from FIELD_ENCRYPTION_KEYS"
    # django-stubs: what may be assigned, and what the attribute holds.
    _pyi_private_set_type: Secret | str  # type: ignore[assignment]
    _pyi_private_get_type: Secret  # type: ignore[assignment]
    descriptor_class = SecretAttribute

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        plaintext = secret_reveal(value)
        if plaintext == "":
            return ""
        return secret_encrypt(plaintext)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret | None:
        if value is None:
            return None
        return Secret(secret_decrypt(value) if value else "")

    def to_python(self, value: Any) -> Secret | None:
        if value is None or isinstance(value, Secret):
            return value
        value = str(value)
        # A serialized dump carries the Fernet token: open it with the configured keys.
        if value.startswith("gAAAAA"):
            try:
                return Secret(secret_decrypt(value))
            except EncryptionKeyError:
                pass
        return Secret(value)

    def value_to_string(self, obj: models.Model) -> str:
        """Serialize as ciphertext: a dump never carries a decrypted secret."""
        value = self.value_from_object(obj)
        return self.get_prep_value(value) or ""

    def formfield(self, **kwargs: Any) -> Any:
        # A model form never shows a stored secret back (forms declare their own secret fields).
        kwargs.setdefault("widget", forms.PasswordInput(render_value=False))
        return super().formfield(**kwargs)

    def get_lookup(self, lookup_name: str) -> Any:
        # Fernet tokens are randomised: only emptiness can be compared in the database.
        if lookup_name not in ("exact", "isnull", "in"):
            return None
        return super().get_lookup(lookup_name)
