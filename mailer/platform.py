"""Platform values from the environment: the default relay and the event mailbox domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

RELAY_SCHEMES = {"smtp": ("no", 25), "smtps": ("ssl", 465), "submission": ("starttls", 587)}


@dataclass(frozen=True)
class Platform:
    """The values the platform supplies when no card does."""

    relay_host: str
    relay_port: int
    relay_ssl_tls: str
    relay_username: str = ""
    relay_password: str = field(default="", repr=False)
    event_domain: str = "event.data.directo.ee"
    company_slug: str = ""

    @property
    def event_mailbox_address(self) -> str:
        return f"{self.company_slug}@{self.event_domain}" if self.company_slug else ""


@sensitive_variables()
def relay_url_parse(url: str) -> tuple[str, int, str, str, str]:
    """Parse PLATFORM_RELAY_URL into host, port, SSL/TLS mode, username and password."""
    parts = urlsplit(url)
    if parts.scheme not in RELAY_SCHEMES or not parts.hostname:
        raise ImproperlyConfigured(
            f"PLATFORM_RELAY_URL must look like smtp://host:25, smtps://host:465 or "
            f"submission://host:587 (got scheme “{parts.scheme}”)."
        )
    ssl_tls, default_port = RELAY_SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ImproperlyConfigured("PLATFORM_RELAY_URL has an invalid port.") from exc
    return (
        parts.hostname,
        port,
        ssl_tls,
        unquote(parts.username or ""),
        unquote(parts.password or ""),
    )


@sensitive_variables("password")
def platform_get(*, company_slug: str = "") -> Platform:
    """Return the platform values, read from settings at call time."""
    host, port, ssl_tls, username, password = relay_url_parse(settings.PLATFORM_RELAY_URL)
    return Platform(
        relay_host=host,
        relay_port=port,
        relay_ssl_tls=ssl_tls,
        relay_username=username,
        relay_password=password,
        event_domain=settings.EVENT_MAILBOX_DOMAIN,
        company_slug=company_slug,
    )
