"""Read-only panels of the card pages: presets, Microsoft 365 status, effective settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext, pgettext

from mailer.config import PLATFORM, CardSettings, global_source, sender_config_resolve
from mailer.platform import platform_get
from mailer.services import sender_config_get
from users.models import MailSender, SslTls, SystemSettings, UserCard
from users.providers import PRESETS


def preset_buttons_render() -> SafeString:
    """Render the provider preset buttons (Gmail, Microsoft 365, Zone) for card_form.js."""
    return render_to_string("portal/_presets.html", {"presets": PRESETS})


def m365_status(card: UserCard) -> dict[str, Any]:
    """Return the card's Microsoft 365 connection state for display; never the token cache.

    A card without its own sign-in that sends with the global card's (the resolver names
    another card's token) says so instead of "Not authenticated".
    """
    connection = getattr(card, "m365_connection", None) if card.pk else None
    if connection is None or not connection.token_cache:
        inherited = m365_inherited(card)
        if inherited is not None:
            return inherited
        return {"state": "none", "label": gettext("Not authenticated"), "account": "", "when": None}
    return {
        "state": "connected" if connection.usable else "reauth_needed",
        "label": connection.get_status_display(),
        "account": connection.account,
        "when": connection.authenticated_at,
    }


def m365_inherited(card: UserCard) -> dict[str, Any] | None:
    """Return the global card's sign-in this card sends with, or None when it does not."""
    if not card.pk:
        return None
    token_card_id = sender_config_get(card=card).m365_token_card_id
    if token_card_id is None or token_card_id == card.pk:
        return None
    source = UserCard.objects.select_related("m365_connection").filter(pk=token_card_id).first()
    if source is None:
        return None
    connection = getattr(source, "m365_connection", None)
    account = connection.account if connection is not None else ""
    return {
        "state": "inherited",
        "label": gettext("Signed in through the global card %(code)s (%(account)s)")
        % {"code": source.code, "account": account or "—"},
        "account": account,
        "when": connection.authenticated_at if connection is not None else None,
    }


def m365_status_render(card: UserCard) -> SafeString:
    return render_to_string(
        "portal/_m365_status.html",
        {"status": m365_status(card), "card": card, "m365_mode": MailSender.M365_OAUTH},
    )


def effective_settings(card: UserCard) -> dict[str, Any]:
    """Return the resolver's public view of a saved card as display rows; never a secret."""
    return effective_settings_rows(sender_config_get(card=card).public_view())


def effective_settings_of(user: CardSettings) -> dict[str, Any]:
    """Return the effective settings of unsaved card values (the page's preview); no secret."""
    system = SystemSettings.load()
    global_card = system.mail_sending_card()
    config = sender_config_resolve(
        user=user,
        global_card=CardSettings.from_card(global_card) if global_card is not None else None,
        platform=platform_get(company_slug=system.company_slug),
    )
    return effective_settings_rows(config.public_view())


def effective_settings_rows(view: dict[str, Any]) -> dict[str, Any]:
    """Turn the resolver's public view into the panel's rows (value and source of each)."""
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


def _mode_resolve(card: UserCard, mode: str) -> Any:
    """Resolve the card as if `mode` were chosen (the explanation says what it would do)."""
    system = SystemSettings.load()
    global_card = system.mail_sending_card()
    user = replace(CardSettings.from_card(card), mail_sender=mode)
    return sender_config_resolve(
        user=user,
        global_card=CardSettings.from_card(global_card) if global_card is not None else None,
        platform=platform_get(company_slug=system.company_slug),
    )


def _server_text(host: str, port: int | None) -> str:
    return f"{host}:{port}" if host and port else host or "—"


def mode_explanations(card: UserCard) -> list[dict[str, str]]:
    """Return what each Mail sender option does for this card, in the resolver's words."""
    directo = _mode_resolve(card, MailSender.DIRECTO)
    source = directo.sources["mode"]
    if source == PLATFORM:
        directo_text = gettext(
            "Directo: your mail goes through the platform's relay (%(server)s). Nothing to set up."
        ) % {"server": _server_text(directo.host, directo.port)}
    else:
        directo_text = gettext(
            "Directo: your mail goes with the settings of the global card %(code)s "
            "(%(mode)s, %(server)s), the card named in System settings as the mail sending user."
        ) % {
            "code": source.removeprefix("global:"),
            "mode": MailSender(directo.mode).label,
            "server": _server_text(directo.host, directo.port),
        }
    reply_to = _mode_resolve(card, MailSender.DIRECTO_REPLY_TO)
    texts = {
        MailSender.DIRECTO: directo_text,
        MailSender.SMTP: gettext(
            "SMTP: your mail goes through your own mail server (e.g. Gmail, Telia, Zone or your "
            "company's server) with its server, username and password, set below."
        ),
        MailSender.M365_OAUTH: gettext(
            "Microsoft 365 OAUTH: you sign in with your Microsoft 365 account (Authenticate "
            "Microsoft 365); no password is stored here."
        ),
        MailSender.DIRECTO_REPLY_TO: gettext(
            "Directo-Reply-To: From becomes the company's event mailbox address (%(address)s) and "
            "Reply-To your own address, because the platform's servers may not send as your "
            "domain (SPF). Replies still reach you."
        )
        % {"address": reply_to.from_email or gettext("set Company name in System settings")},
    }
    return [
        {"value": str(value), "label": str(label), "text": texts[MailSender(value)]}
        for value, label in MailSender.choices
    ]


def mode_explanations_render(card: UserCard) -> SafeString:
    return render_to_string(
        "portal/_mode_help.html", {"modes": mode_explanations(card), "selected": card.mail_sender}
    )


def global_card_inheriting_count(card: UserCard) -> int:
    """Count the other cards whose resolved settings take anything from this (global) card."""
    system = SystemSettings.load()
    global_settings = CardSettings.from_card(card)
    platform = platform_get(company_slug=system.company_slug)
    source = global_source(card.code)
    others = UserCard.objects.exclude(pk=card.pk).select_related("m365_connection")
    return sum(
        source
        in sender_config_resolve(
            user=CardSettings.from_card(other), global_card=global_settings, platform=platform
        ).sources.values()
        for other in others.iterator()
    )


def global_card_notice(card: UserCard) -> dict[str, Any] | None:
    """Return what the page says about the global card, or None for any other card."""
    if not card.pk or not card.is_global():
        return None
    count = global_card_inheriting_count(card)
    return {
        "code": card.code,
        "count": count,
        "text": ngettext(
            "%(count)d other card inherits settings from it.",
            "%(count)d other cards inherit settings from it.",
            count,
        )
        % {"count": count},
    }


def global_card_notice_render(card: UserCard) -> SafeString | str:
    notice = global_card_notice(card)
    if notice is None:
        return ""
    return render_to_string("portal/_global_card.html", {"notice": notice})
