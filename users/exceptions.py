"""Named errors of the users app."""

from __future__ import annotations


class EncryptionKeyError(Exception):
    """A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS. "
            "Add the key it was encrypted with (keep the new key first), then run "
            "`python manage.py rotate_encryption_keys`."
        )
