"""What the resolver finds missing: a setting's key and a reason, made into text when shown.

A `missing` item is stored as a reason code (the setting's key follows from it) and the
values its sentence names, shared by every item of one resolution (the card's code, the global
card's code and server). The text is made in the active language when it is read, so a
"settings incomplete" event recorded in English reads in Polish to a Polish user, while
`mail_settings --json` keeps its `missing` entries (`key: what to do`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext, gettext_noop, pgettext

from events.errors import Param

#: The `missing` reasons: each the setting's key (never translated) and its sentence.
REASONS: dict[str, tuple[str, str]] = {
    "email": (
        "email",
        gettext_noop("card {code} has no e-mail address; set E-mail on card {code}"),
    ),
    "mail_server": (
        "mail_server",
        gettext_noop("no mail server after merging; set Mail server on card {code}"),
    ),
    "mail_server_global": (
        "mail_server",
        gettext_noop(
            "no mail server after merging; set Mail server on card {code} or on the "
            "global card {global}"
        ),
    ),
    "smtp_password": (
        "smtp_password",
        gettext_noop(
            "card {code} has a username but no password; set Password on card {code} "
            "(or clear its username to use the global card's)"
        ),
    ),
    "smtp_password_global": (
        "smtp_password",
        gettext_noop(
            "the global card {global} has a username but no password; set Password on card {global}"
        ),
    ),
    "smtp_password_withheld": (
        "smtp_password",
        gettext_noop(
            "the global card {global}'s username and password go only to {global}'s server "
            "{server} {security}; set your own Username and Password on card {code}, or use the "
            "global server's settings (clear Mail server and SSL/TLS on card {code})"
        ),
    ),
    "smtp_username": (
        "smtp_username",
        gettext_noop(
            "card {code} has a password but no username; set Username on card {code} or "
            "clear its password"
        ),
    ),
    "m365_token": (
        "m365_token",
        gettext_noop(
            "Microsoft 365 is not authenticated; click Authenticate Microsoft 365 on card {code}"
        ),
    ),
    "m365_token_global": (
        "m365_token",
        gettext_noop(
            "Microsoft 365 is not authenticated; click Authenticate Microsoft 365 "
            "on card {code} or on the global card {global}"
        ),
    ),
    "m365_token_expired": (
        "m365_token",
        gettext_noop(
            "the Microsoft 365 consent expired or was revoked; click Authenticate "
            "Microsoft 365 again on card {code}"
        ),
    ),
    "m365_token_withheld": (
        "m365_token",
        gettext_noop(
            "the global card {global}'s Microsoft 365 token goes only to {global}'s server "
            "{server} {security}; click Authenticate Microsoft 365 on card {code}, or use the "
            "global server's settings (clear Mail server and SSL/TLS on card {code})"
        ),
    ),
    "company_name": (
        "company_name",
        gettext_noop(
            "Directo-Reply-To sends from <company>@{domain}; set Company name in System settings"
        ),
    ),
}
#: The names the sentences fill in (the parameters of a "settings incomplete" cause).
VALUES = ("code", "global", "server", "security", "domain")
#: The parameter that lists the reasons of a "settings incomplete" cause, comma-separated.
PARAM = "missing"


def _security_words(ssl_tls: str) -> str:
    """Return how the global card's server is secured, as the `missing` texts say it."""
    if ssl_tls == "ssl":
        return pgettext("missing: the global card's server", "with SSL")
    if ssl_tls == "starttls":
        return pgettext("missing: the global card's server", "with StartTLS")
    return pgettext("missing: the global card's server", "with SSL/TLS No")


@dataclass(frozen=True)
class Missing:
    """One thing the resolver found missing: its reason code (a key of REASONS)."""

    reason: str

    @property
    def key(self) -> str:
        """Return the setting's key (never translated), e.g. "mail_server"."""
        return REASONS[self.reason][0]

    def text(self, values: Mapping[str, Param]) -> str:
        """Return `key: what to do` in the active language."""
        context = {name: "" for name in VALUES} | {
            name: "" if value is None else value for name, value in values.items()
        }
        context["security"] = _security_words(str(context["security"]))
        return f"{self.key}: {gettext(REASONS[self.reason][1]).format_map(context)}"


def missing_render(params: Mapping[str, Param]) -> str:
    """Return the stored `missing` reasons of a cause's parameters as one text, or ""."""
    reasons = params.get(PARAM)
    if not isinstance(reasons, str) or not reasons:
        return ""
    # An unknown reason (a newer code read by an older release) raises KeyError: the caller
    # then shows the text as recorded.
    return "; ".join(Missing(reason).text(params) for reason in reasons.split(","))
