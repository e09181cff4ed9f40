"""The one reader of the environment (django-environ) for the whole project."""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEFAULT_OUTBOUND_IPS = (
    "90.190.150.210, 90.190.150.211, 90.190.150.212, 90.190.150.213, 90.190.150.219, 90.190.150.82"
)

env = environ.Env(
    DJANGO_ENV=(str, "development"),
    DATABASE_URL=(str, f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
    CELERY_BROKER_URL=(str, "filesystem://"),
    FIELD_ENCRYPTION_KEYS=(list, []),
    PLATFORM_RELAY_URL=(str, "smtp://directo.gate.ee:25"),
    EVENT_MAILBOX_DOMAIN=(str, "event.data.directo.ee"),
    PLATFORM_OUTBOUND_IPS=(list, [ip.strip() for ip in DEFAULT_OUTBOUND_IPS.split(",")]),
    OAUTH365_CLIENT_ID=(str, ""),
    OAUTH365_CLIENT_SECRET=(str, ""),
    OAUTH365_AUTHORITY=(str, "https://login.microsoftonline.com/organizations"),
    OAUTH365_REDIRECT_URI=(str, ""),
    MAILER_CA_BUNDLE=(str, ""),
    MAILER_ALLOW_PRIVATE_HOSTS=(bool, False),
    MAILER_DNS_NAMESERVERS=(list, []),
    MAILER_SLOT_TTL=(float, 120.0),
)

# A local .env (see .env.example) fills in what the process environment leaves unset.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def is_development() -> bool:
    """Return whether this process runs the development profile (embedded defaults)."""
    return env("DJANGO_ENV") == "development"


def proxy_ssl_header(value: list[str]) -> tuple[str, str] | None:
    """Return SECURE_PROXY_SSL_HEADER from `HEADER,value` (`X-Forwarded-Proto` also accepted)."""
    if not value:
        return None
    if len(value) != 2 or not all(part.strip() for part in value):
        raise ImproperlyConfigured(
            "DJANGO_SECURE_PROXY_SSL_HEADER must be a header and its HTTPS value, e.g. "
            "HTTP_X_FORWARDED_PROTO,https"
        )
    header = value[0].strip().upper().replace("-", "_")
    if not header.startswith("HTTP_"):
        header = f"HTTP_{header}"
    return header, value[1].strip()
