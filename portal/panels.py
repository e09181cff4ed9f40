"""Read-only panels of the card pages: presets, Microsoft 365 status, effective settings."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext, pgettext

from mailer.services import sender_config_get
from users.models import MailSender, SslTls, UserCard
from users.providers import PRESETS


def preset_buttons_render() -> SafeString:
    """Render the provider preset buttons (Gmail, Microsoft 365, Zone) for card_form.js."""
    return render_to_string("portal/_presets.html", {"presets": PRESETS})


def m365_status(card: UserCard) -> dict[str, Any]:
    """Return the card's Microsoft 365 connection state for display; never the token cache."""
    connection = getattr(card, "m365_connection", None) if card.pk else None
    if connection is None or not connection.token_cache:
        return {"state": "none", "label": gettext("Not authenticated"), "account": "", "when": None}
    return {
        "state": "connected" if connection.usable else "reauth_needed",
        "label": connection.get_status_display(),
        "account": connection.account,
        "when": connection.authenticated_at,
    }


def m365_status_render(card: UserCard) -> SafeString:
    return render_to_string(
        "portal/_m365_status.html",
        {"status": m365_status(card), "card": card, "m365_mode": MailSender.M365_OAUTH},
    )


def effective_settings(card: UserCard) -> dict[str, Any]:
    """Return the resolver's public view of a saved card as display rows; never a secret."""
    view = sender_config_get(card=card).public_view()
    sources = view["sources"]
    mode = view["mode"]
    ssl_tls = view["ssl_tls"]
    password = (
        pgettext("password", "set") if view["password_set"] else pgettext("password", "not set")
    )
    mass_mail = gettext("allowed") if view["mass_mail_allowed"] else gettext("not allowed")
    rows = [
        (gettext("Mail sender"), MailSender(mode).label, sources.get("mode", "")),
        (gettext("Server"), view["host"] or "—", sources.get("host", "")),
        (gettext("Port"), view["port"] or "—", sources.get("port", "")),
        (gettext("SSL/TLS"), SslTls(ssl_tls).label if ssl_tls else "—", sources.get("ssl_tls", "")),
        (pgettext("user card", "Username"), view["username"] or "—", sources.get("username", "")),
        (pgettext("user card", "Password"), password, sources.get("password_set", "")),
        (gettext("From"), view["from"] or "—", sources.get("from", "")),
        (gettext("Reply-To"), view["reply_to"] or "—", sources.get("reply_to", "")),
        (
            gettext("Envelope sender"),
            view["envelope_from"] or "—",
            sources.get("envelope_from", ""),
        ),
        (gettext("Mass mailing"), mass_mail, sources.get("mass_mail_allowed", "")),
    ]
    return {"rows": rows, "ready": view["ready"], "missing": view["missing"]}


def effective_settings_render(card: UserCard) -> SafeString:
    return render_to_string(
        "portal/_effective_settings.html", {"effective": effective_settings(card)}
    )
