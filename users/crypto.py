"""Fernet keys for secrets at rest, read lazily from FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

import logging
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.views.decorators.debug import sensitive_variables

from users.exceptions import EncryptionKeyError

logger = logging.getLogger(__name__)

KEYS_SETTING = "FIELD_ENCRYPTION_KEYS"


def _development_key() -> bytes:
    """Return this checkout's random development key, creating it on first use."""
    path = settings.FIELD_ENCRYPTION_DEV_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    logger.warning(
        "%s is not set: using the development key in %s. Set %s outside development.",
        KEYS_SETTING,
        path,
        KEYS_SETTING,
    )
    return key


def _parse_keys(raw: list[str]) -> list[Fernet]:
    keys = []
    for position, key in enumerate(k.strip() for k in raw if k.strip()):
        try:
            keys.append(Fernet(key))
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"{KEYS_SETTING}: key #{position + 1} is not a Fernet key (32 url-safe "
                'base64-encoded bytes). Generate one with `python -c "from cryptography.fernet '
                'import Fernet; print(Fernet.generate_key().decode())"`.'
            ) from exc
    return keys


@lru_cache(maxsize=1)
def fernet_keys() -> tuple[Fernet, ...]:
    """Return the configured Fernet keys, the encrypting one first."""
    keys = _parse_keys(list(settings.FIELD_ENCRYPTION_KEYS))
    if keys:
        return tuple(keys)
    if settings.DEVELOPMENT:
        return (Fernet(_development_key()),)
    raise ImproperlyConfigured(
        f"{KEYS_SETTING} is not set. Set it to one or more comma-separated Fernet keys "
        '(the first encrypts); generate one with `python -c "from cryptography.fernet import '
        'Fernet; print(Fernet.generate_key().decode())"`.'
    )


@receiver(setting_changed)
def _reset_keys(*, setting: str, **kwargs: object) -> None:
    if setting in (KEYS_SETTING, "DEVELOPMENT", "FIELD_ENCRYPTION_DEV_KEY_FILE"):
        fernet_keys.cache_clear()


@sensitive_variables()
def secret_encrypt(plaintext: str) -> str:
    """Encrypt a secret with the first key."""
    return fernet_keys()[0].encrypt(plaintext.encode()).decode("ascii")


@sensitive_variables()
def secret_decrypt(token: str) -> str:
    """Decrypt a secret with any configured key, or raise EncryptionKeyError."""
    try:
        return MultiFernet(list(fernet_keys())).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise EncryptionKeyError() from exc


@sensitive_variables()
def secret_needs_rotation(token: str) -> bool:
    """Return whether a stored token is not encrypted with the first key."""
    try:
        fernet_keys()[0].decrypt(token.encode("ascii"))
    except InvalidToken:
        return True
    return False


@sensitive_variables()
def secret_rotate(token: str) -> str:
    """Re-encrypt a stored token with the first key, or raise EncryptionKeyError."""
    try:
        return MultiFernet(list(fernet_keys())).rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise EncryptionKeyError() from exc
