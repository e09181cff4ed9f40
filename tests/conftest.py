"""Shared fixtures: test encryption keys and the services a test needs."""

from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet

from users import crypto

# Real local SMTP servers (aiosmtpd + trustme) and Chromium for every test package.
pytest_plugins = ["tests.smtp_servers", "tests.browser"]

TEST_KEYS = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(reason: str) -> None:
    """Fail under CI, skip elsewhere: a test that needs a service never passes silently in CI."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI must provide it; .ci/run starts it)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Give every test its own encryption keys and allow loopback SMTP hosts."""
    settings.FIELD_ENCRYPTION_KEYS = [TEST_KEYS[0]]
    # Accounts are made by the hundred in tests: a fast hasher keeps that cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MAILER_ALLOW_PRIVATE_HOSTS = True
    # No test asks a DNS server beyond loopback: nothing listens on this port (refused at once).
    settings.MAILER_DNS_NAMESERVERS = ["127.0.0.1:9"]
    settings.PLATFORM_RELAY_URL = "smtp://relay.platform.test:25"
    settings.EVENT_MAILBOX_DOMAIN = "event.data.directo.ee"
    crypto.fernet_keys.cache_clear()
    yield settings
    crypto.fernet_keys.cache_clear()
