"""EncryptedTextField: a text column whose value is stored as a Fernet token."""

from __future__ import annotations

from typing import Any

from django.db import models

from users.crypto import secret_decrypt, secret_encrypt


class EncryptedTextField(models.TextField):
    """Hold a secret in clear in Python and as a Fernet token in the database.

    An empty value is stored as an empty string, unencrypted, so "not set" stays queryable.
    A token that no configured key opens raises EncryptionKeyError on load; the row is never
    rewritten by this field.
    """

    description = "Text encrypted at rest with Fernet keys from FIELD_ENCRYPTION_KEYS"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return secret_encrypt(value)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value in (None, ""):
            return value
        return secret_decrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        # Fernet tokens are randomised: only emptiness can be compared in the database.
        if lookup_name not in ("exact", "isnull", "in"):
            return None
        return super().get_lookup(lookup_name)
