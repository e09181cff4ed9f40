"""Shared fixtures: test encryption keys and the services a test needs."""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.db import connection
from django.utils import translation

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


def use_keys(settings, *keys: str) -> None:
    """Set FIELD_ENCRYPTION_KEYS (first key encrypts) and forget the keys read before."""
    settings.FIELD_ENCRYPTION_KEYS = list(keys)
    crypto.fernet_keys.cache_clear()


def database_url_for_tests() -> str:
    """Return the URL of the database this test process uses (the test database)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{quote(db['USER'])}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def manage_env(keys: list[str] | None = None) -> dict[str, str]:
    """Return the environment of a `manage.py` subprocess using the test database and keys."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "FIELD_ENCRYPTION_KEYS": ",".join(keys or [TEST_KEYS[0]]),
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives Chromium or a real Celery worker slow as well."""
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("celery"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Give every test its own encryption keys, an empty cache and loopback SMTP hosts."""
    use_keys(settings, TEST_KEYS[0])
    # Rate limits and DNS answers live in the cache: no test sees another's.
    cache.clear()
    # Accounts are made by the hundred in tests: a fast hasher keeps that cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MAILER_ALLOW_PRIVATE_HOSTS = True
    # No test asks a DNS server beyond loopback: nothing listens on this port (refused at once).
    settings.MAILER_DNS_NAMESERVERS = ["127.0.0.1:9"]
    settings.PLATFORM_RELAY_URL = "smtp://relay.platform.test:25"
    settings.EVENT_MAILBOX_DOMAIN = "event.data.directo.ee"
    yield settings
    crypto.fernet_keys.cache_clear()
    cache.clear()


@pytest.fixture(autouse=True)
def _language_reset():
    """Start and end every test in English (settings.LANGUAGE_CODE).

    LocaleMiddleware and the card's language activate a language on the thread that the test
    client runs requests on, and nothing resets it: a Polish page would leave the next test
    reading Polish.
    """
    translation.deactivate()
    yield
    translation.deactivate()
