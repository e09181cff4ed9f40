"""Parsing and checks of the card's server fields (SPEC.md "The user card")."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, pgettext, pgettext_lazy

from users.secrets import Secret

ALLOWED_PORTS = (25, 465, 587)
SUGGESTED_SSL_TLS = {25: "starttls", 465: "ssl", 587: "starttls"}
#: The SSL/TLS choices' labels (users.models.SslTls has the same; "No" is the SSL/TLS one).
SSL_TLS_LABELS = {
    "no": pgettext_lazy("SSL/TLS", "No"),
    "ssl": "SSL",
    "starttls": "StartTLS / SSL / TLS",
}

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
#: CR, LF and NUL: each would let a value end an SMTP command or a mail header and add another.
CONTROL_CHARACTERS = "\r\n\x00"
LINE_BREAKS = "\r\n"


def has_control_characters(value: str, *, nul: bool = True) -> bool:
    """Return whether the text holds CR, LF or (unless `nul` is False) NUL."""
    return any(char in value for char in (CONTROL_CHARACTERS if nul else LINE_BREAKS))


def reject_control_characters(value: object) -> None:
    """Refuse CR, LF and NUL, which would let a value inject SMTP or mail headers."""
    if isinstance(value, Secret):
        value = value.reveal()
    if isinstance(value, str) and has_control_characters(value):
        raise ValidationError(
            gettext("Line breaks and NUL characters are not allowed here; remove them."),
            code="control_characters",
        )


@dataclass(frozen=True)
class MailServer:
    """A parsed `host:port` value."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _valid_hostname(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_HOSTNAME_LABEL.match(label) for label in labels)


def mail_server_parse(value: str) -> MailServer:
    """Parse `host:port` (IPv6 as `[::1]:587`); raise ValidationError naming the fix."""
    value = value.strip()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValidationError(
                gettext(
                    "Write an IPv6 server as [address]:port, e.g. smtp.gmail.com:465 or "
                    "[2001:db8::1]:587."
                ),
                code="mail_server_format",
            )
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValidationError(
                gettext(
                    "“%(host)s” is not an IPv6 address; write the server as host:port, e.g. "
                    "smtp.gmail.com:465 or [2001:db8::1]:587."
                ),
                code="mail_server_host",
                params={"host": host},
            ) from None
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep:
            raise ValidationError(
                gettext(
                    "Add the port to the server: host:port, e.g. smtp.gmail.com:465 or "
                    "[2001:db8::1]:587. Allowed ports: 25, 465 or 587."
                ),
                code="mail_server_port_missing",
            )
        if ":" in host:
            raise ValidationError(
                gettext(
                    "Put an IPv6 address in brackets: [address]:port, e.g. smtp.gmail.com:465 or "
                    "[2001:db8::1]:587."
                ),
                code="mail_server_format",
            )
        if not host or not _valid_hostname(host):
            raise ValidationError(
                gettext(
                    "“%(host)s” is not a valid host name; write the server as host:port, e.g. "
                    "smtp.gmail.com:465 or [2001:db8::1]:587."
                ),
                code="mail_server_host",
                params={"host": host},
            )
    if not port_text.isdigit():
        raise ValidationError(
            gettext(
                "The port “%(port)s” is not a number; use 25, 465 or 587, e.g. "
                "smtp.gmail.com:465 or [2001:db8::1]:587."
            ),
            code="mail_server_port",
            params={"port": port_text},
        )
    port = int(port_text)
    if port not in ALLOWED_PORTS:
        raise ValidationError(
            gettext(
                "Port %(port)s is not allowed: use 465 (SSL), 587 (StartTLS) or 25 (StartTLS)."
            ),
            code="mail_server_port",
            params={"port": port},
        )
    return MailServer(host=host.lower(), port=port)


def ssl_tls_warning(port: int, ssl_tls: str) -> str | None:
    """Return a warning naming the fix when SSL/TLS does not suit the port, else None."""
    suggested = SUGGESTED_SSL_TLS[port]
    if not ssl_tls or ssl_tls == suggested:
        return None
    if ssl_tls == "no":
        return gettext(
            "SSL/TLS is “%(no)s” on port %(port)s: the password and mail would cross the network "
            "unencrypted. Choose “%(suggested)s” unless the server is on a trusted network."
        ) % {"no": pgettext("SSL/TLS", "No"), "port": port, "suggested": SSL_TLS_LABELS[suggested]}
    return gettext(
        "Port %(port)s usually expects “%(suggested)s”, not “%(chosen)s”: choose “%(suggested)s” "
        "or use port %(other_port)s."
    ) % {
        "port": port,
        "suggested": SSL_TLS_LABELS[suggested],
        "chosen": SSL_TLS_LABELS[ssl_tls],
        "other_port": 465 if ssl_tls == "ssl" else 587,
    }


_APP_PASSWORD_WITH_SPACES = re.compile(r"^[a-z]{4}( [a-z]{4}){3}$", re.IGNORECASE)


def gmail_app_password_normalize(password: str) -> str:
    """Strip the spaces Google shows inside a 16-character app password."""
    stripped = password.strip()
    if _APP_PASSWORD_WITH_SPACES.match(stripped) or len(re.sub(r"\s", "", stripped)) == 16:
        return re.sub(r"\s", "", stripped)
    return password
