"""What the card knows about mail providers: presets, host patterns and hints."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderPreset:
    """A provider's recommended server settings."""

    key: str
    label: str
    mail_server: str
    ssl_tls: str
    mail_sender: str
    hint: str


PRESETS: tuple[ProviderPreset, ...] = (
    ProviderPreset(
        key="google",
        label="Gmail / Google Workspace",
        mail_server="smtp.gmail.com:465",
        ssl_tls="ssl",
        mail_sender="smtp",
        hint="Use a 16-character app password (Google account → Security → App passwords); "
        "spaces are removed automatically.",
    ),
    ProviderPreset(
        key="microsoft365",
        label="Microsoft 365",
        mail_server="smtp.office365.com:587",
        ssl_tls="starttls",
        mail_sender="m365_oauth",
        hint="Click Authenticate Microsoft 365 after saving. The mailbox needs Authenticated SMTP "
        "(Admin Center → Users → Active users → Mail → Manage email apps).",
    ),
    ProviderPreset(
        key="zone",
        label="Zone",
        mail_server="smtp.zone.eu:465",
        ssl_tls="ssl",
        mail_sender="smtp",
        hint="smtp.zone.ee:465 works too, or port 587 with StartTLS.",
    ),
)
PRESETS_BY_KEY = {preset.key: preset for preset in PRESETS}

_MICROSOFT_365_HOST = re.compile(
    r"(^|\.)(office365\.com|outlook\.com|office\.com|protection\.outlook\.com)$", re.IGNORECASE
)
_GMAIL_HOST = re.compile(r"^smtp(-relay)?\.(gmail|googlemail)\.com$", re.IGNORECASE)


def is_microsoft_365_host(host: str) -> bool:
    """Return whether a server host belongs to Microsoft 365 / Exchange Online."""
    return bool(_MICROSOFT_365_HOST.search(host.rstrip(".")))


def is_gmail_host(host: str) -> bool:
    """Return whether a server host is Google's submission server."""
    return bool(_GMAIL_HOST.match(host.rstrip(".")))
