"""The resolver: one pure function gives a user's effective mail settings (SPEC.md)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.debug import sensitive_variables

from events.errors import Param
from mailer.causes import MailCause
from mailer.missing import PARAM, Missing
from mailer.platform import Platform
from users.models import SERVER_MODES, MailSender
from users.providers import PRESETS_BY_KEY
from users.secrets import Secret
from users.validation import SUGGESTED_SSL_TLS, MailServer, mail_server_parse

if TYPE_CHECKING:
    from collections.abc import Mapping

    from users.models import UserCard

USER = "user"
PLATFORM = "platform"
M365_DEFAULT_SERVER = PRESETS_BY_KEY["microsoft365"].mail_server


def global_source(code: str) -> str:
    return f"global:{code}"


@dataclass(frozen=True)
class CardSettings:
    """The resolver's view of one card: its mail fields and its Microsoft 365 token state."""

    code: str
    email: str = ""
    mail_sender: str = MailSender.DIRECTO
    mail_server: str = ""
    ssl_tls: str = ""
    smtp_username: str = ""
    smtp_password: Secret | str = field(default="", repr=False)
    m365_token: str = ""  # "" (none), "usable" or "reauth_needed"
    m365_account: str = ""
    card_id: int | None = None

    @classmethod
    def from_card(cls, card: UserCard) -> CardSettings:
        connection = getattr(card, "m365_connection", None) if card.pk else None
        token = ""
        if connection is not None and connection.token_cache:
            token = "usable" if connection.usable else "reauth_needed"
        return cls(
            code=card.code,
            email=card.email,
            mail_sender=card.mail_sender,
            mail_server=card.mail_server,
            ssl_tls=card.ssl_tls,
            smtp_username=card.smtp_username,
            smtp_password=card.smtp_password or "",
            m365_token=token,
            m365_account=connection.account if connection is not None else "",
            card_id=card.pk,
        )


@dataclass(frozen=True)
class SenderConfig:
    """A user's effective mail settings, each value with its source; the password stays hidden."""

    code: str
    mode: str
    host: str
    port: int | None
    ssl_tls: str
    username: str
    password: Secret = field(repr=False, compare=False)
    from_email: str
    reply_to: str
    envelope_from: str
    mass_mail_allowed: bool
    m365_token_card_id: int | None
    #: What is missing (reasons), and the values their sentences name (mailer.missing).
    missing_items: tuple[Missing, ...]
    missing_values: Mapping[str, str]
    sources: Mapping[str, str]

    @property
    def ready(self) -> bool:
        return not self.missing_items

    @property
    def missing(self) -> tuple[str, ...]:
        """Return what is missing and where to set it (`key: what to do`), now translated."""
        return tuple(item.text(self.missing_values) for item in self.missing_items)

    def missing_params(self) -> dict[str, Param]:
        """Return the parameters of MailCause.SETTINGS_INCOMPLETE: reasons and values, not text.

        The text is made when shown, in the reader's language; `detail` keeps the English text
        for readers that know no reasons (an older release).
        """
        with translation.override("en"):
            detail = "; ".join(self.missing)
        reasons = ",".join(item.reason for item in self.missing_items)
        return {PARAM: reasons, **self.missing_values, "detail": detail}

    @property
    def password_set(self) -> bool:
        return bool(self.password)

    @property
    def uses_platform_relay(self) -> bool:
        return self.mode not in SERVER_MODES

    def mass_mail_refusal(self) -> str | None:
        """Return why mass mailing is refused (in the active language), or None when allowed.

        The same text as massmail's refusal (MassMailCause.MASS_MAIL_NOT_ALLOWED, one msgid)
        and as MailCause.SETTINGS_INCOMPLETE.
        """
        if not self.mass_mail_allowed:
            return gettext(_MASS_MAIL_NOT_ALLOWED).format(
                code=self.code, sender=MailSender(self.mode).label
            )
        if self.missing_items:
            return MailCause.SETTINGS_INCOMPLETE.render(self.missing_params())
        return None

    def public_view(self) -> dict[str, Any]:
        """Return every value and its source, without any secret (the `mail_settings` JSON)."""
        return {
            "code": self.code,
            "mode": self.mode,
            "host": self.host,
            "port": self.port,
            "ssl_tls": self.ssl_tls,
            "username": self.username,
            "password_set": self.password_set,
            "from": self.from_email,
            "reply_to": self.reply_to,
            "envelope_from": self.envelope_from,
            "mass_mail_allowed": self.mass_mail_allowed,
            "ready": self.ready,
            "missing": list(self.missing),
            "sources": dict(self.sources),
        }


# massmail.causes.MassMailCause.MASS_MAIL_NOT_ALLOWED has the same text (and so translation).
_MASS_MAIL_NOT_ALLOWED = gettext_noop(
    "Mass mailing is allowed only with SMTP or Microsoft 365 OAUTH; {code} resolves to "
    "“{sender}”. Set the mail sender on the card, or name an SMTP card as the mail "
    "sending user in System settings."
)


def _server(card: CardSettings) -> tuple[str, int] | None:
    if not card.mail_server:
        return None
    try:
        server = mail_server_parse(card.mail_server)
    except ValidationError:
        return None
    return server.host, server.port


def _host_key(host: str) -> str:
    """Return a host name as compared: lower case, no root dot, IPv6 in its one short form."""
    host = host.lower().rstrip(".")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host


# SSL/TLS strength for rule 4: SSL and StartTLS both encrypt before AUTH; `no` never does.
_TLS_STRENGTH = {"": 0, "no": 0, "ssl": 1, "starttls": 1}


@sensitive_variables("password")
def sender_config_resolve(
    *, user: CardSettings, global_card: CardSettings | None, platform: Platform
) -> SenderConfig:
    """Merge the user's card over the global card and the platform (SPEC.md rules 1-8)."""
    g = global_card if global_card is not None and global_card.code != user.code else None
    g_source = global_source(g.code) if g is not None else PLATFORM
    sources: dict[str, str] = {}
    missing: list[Missing] = []
    values = {"code": user.code, "global": g.code if g is not None else ""}

    # Rule 1: the mode.
    if user.mail_sender != MailSender.DIRECTO:
        mode, sources["mode"] = user.mail_sender, USER
    elif g is not None:
        mode, sources["mode"] = g.mail_sender, g_source
    else:
        mode, sources["mode"] = MailSender.DIRECTO, PLATFORM
    sources["mass_mail_allowed"] = sources["mode"]
    mass_mail_allowed = mode in SERVER_MODES

    host, port, ssl_tls, username = "", None, "", ""
    password: Secret | str = ""
    m365_token_card_id = None
    reply_to = ""
    from_email, sources["from"] = user.email, USER
    envelope_from, sources["envelope_from"] = user.email, USER
    sources["reply_to"] = sources["mode"]
    if not user.email:
        missing.append(Missing("email"))

    if mode in SERVER_MODES:
        # Rule 2: server, port and SSL/TLS.
        own, inherited = _server(user), _server(g) if g is not None else None
        if own is not None:
            (host, port), server_source = own, USER
        elif inherited is not None:
            (host, port), server_source = inherited, g_source
        elif mode == MailSender.M365_OAUTH:
            server = mail_server_parse(M365_DEFAULT_SERVER)
            (host, port), server_source = (server.host, server.port), PLATFORM
        else:
            server_source = g_source if g is not None else USER
            missing.append(Missing("mail_server_global" if g is not None else "mail_server"))
        sources["host"] = sources["port"] = server_source
        # G's own server: the one G names, else the Microsoft 365 default G itself would use.
        g_server = inherited
        if g_server is None and g is not None and mode == MailSender.M365_OAUTH:
            default = mail_server_parse(M365_DEFAULT_SERVER)
            g_server = default.host, default.port
        on_g_host = g_server is not None and _host_key(host) == _host_key(g_server[0])
        on_g_server = on_g_host and g_server is not None and port == g_server[1]
        if user.ssl_tls:
            ssl_tls, sources["ssl_tls"] = user.ssl_tls, USER
        elif g is not None and g.ssl_tls and inherited is not None and on_g_server:
            # Blank is "the global card's" (SPEC.md): on G's own host and port, G's choice holds.
            ssl_tls, sources["ssl_tls"] = g.ssl_tls, g_source
        elif port is not None:
            ssl_tls, sources["ssl_tls"] = SUGGESTED_SSL_TLS[port], server_source
        else:
            sources["ssl_tls"] = server_source
        # Rule 4: G's password and token go only to G's own host and port, and never with weaker
        # transport security than G's, so a user cannot hand them to any host or send them in
        # clear. SSL and StartTLS count as equally strong: both encrypt before AUTH (the
        # transport refuses to authenticate when STARTTLS is not offered). As the port is pinned
        # to G's, a switch between them on it only makes the handshake fail (465 speaks TLS from
        # the first byte, 25/587 only after STARTTLS); it never exposes the secret.
        g_ssl_tls = ""
        if g is not None and g_server is not None:
            g_ssl_tls = g.ssl_tls or SUGGESTED_SSL_TLS[g_server[1]]
        g_creds_ok = (
            g is not None
            and on_g_server
            and _TLS_STRENGTH.get(ssl_tls, 0) >= _TLS_STRENGTH[g_ssl_tls]
        )
        # Where G's secret is withheld: on another host the user runs their own server, and a
        # blank Username there means no authentication (SPEC.md "The user card"); on G's own host
        # (another port, weaker SSL/TLS) the user evidently means G's mailbox, so the result is
        # not ready and says why, instead of failing at AUTH later.
        withheld = g is not None and g_server is not None and not g_creds_ok
        if withheld and g_server is not None:
            values["server"] = str(MailServer(host=g_server[0], port=g_server[1]))
            values["security"] = g_ssl_tls

        # Rule 3: credentials are a pair.
        if user.smtp_username:
            username, password, cred_source = user.smtp_username, user.smtp_password, USER
            if not password and mode == MailSender.SMTP:
                missing.append(Missing("smtp_password"))
        elif user.smtp_password:
            username, password, cred_source = "", "", USER
            missing.append(Missing("smtp_username"))
        elif g is not None and g_creds_ok:
            username, password, cred_source = g.smtp_username, g.smtp_password, g_source
            if username and not password and mode == MailSender.SMTP:
                missing.append(Missing("smtp_password_global"))
        else:
            cred_source = USER
            if withheld and on_g_host and mode == MailSender.SMTP and g and g.smtp_username:
                missing.append(Missing("smtp_password_withheld"))
        sources["username"] = sources["password_set"] = cred_source

        # Rule 4: Microsoft 365 token, the user's own first.
        if mode == MailSender.M365_OAUTH:
            # XOAUTH2 authenticates as the token's own mailbox; no password is involved.
            password = ""
            if user.m365_token == "usable":
                m365_token_card_id, sources["m365_token"] = user.card_id, USER
                username = user.smtp_username or user.m365_account
                sources["username"] = sources["password_set"] = USER
            elif g is not None and g_creds_ok and g.m365_token == "usable":
                m365_token_card_id, sources["m365_token"] = g.card_id, g_source
                username = g.smtp_username or g.m365_account
                sources["username"] = sources["password_set"] = g_source
            elif withheld and g and g.m365_token == "usable" and user.m365_token == "":
                sources["m365_token"] = USER
                missing.append(Missing("m365_token_withheld"))
            else:
                sources["m365_token"] = USER
                if user.m365_token == "reauth_needed" or (g and g.m365_token == "reauth_needed"):
                    missing.append(Missing("m365_token_expired"))
                else:
                    missing.append(Missing("m365_token_global" if g else "m365_token"))
    else:
        # Directo and Directo-Reply-To go through the platform relay.
        host, port, ssl_tls = platform.relay_host, platform.relay_port, platform.relay_ssl_tls
        username, password = platform.relay_username, platform.relay_password
        for key in ("host", "port", "ssl_tls", "username", "password_set"):
            sources[key] = PLATFORM
        if mode == MailSender.DIRECTO_REPLY_TO:
            # Rule 5: the event mailbox is the From and the bounce address; the user gets replies.
            event_address = platform.event_mailbox_address
            from_email = envelope_from = event_address
            sources["from"] = sources["envelope_from"] = PLATFORM
            reply_to, sources["reply_to"] = user.email, USER
            if not event_address:
                values["domain"] = platform.event_domain
                missing.append(Missing("company_name"))

    return SenderConfig(
        code=user.code,
        mode=str(mode),
        host=host,
        port=port,
        ssl_tls=ssl_tls,
        username=username,
        password=Secret(password),
        from_email=from_email,
        reply_to=reply_to,
        envelope_from=envelope_from,
        mass_mail_allowed=mass_mail_allowed,
        m365_token_card_id=m365_token_card_id,
        missing_items=tuple(missing),
        missing_values=MappingProxyType(values),
        sources=MappingProxyType(sources),
    )
