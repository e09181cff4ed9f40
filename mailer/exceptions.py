"""Named sending errors: each knows its cause code, the message for the user, if transient."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Step(StrEnum):
    """The step of an SMTP session that failed (stored on events as text)."""

    CONNECT = "CONNECT"
    EHLO = "EHLO"
    TLS = "TLS"
    AUTH = "AUTH"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    RSET = "RSET"


# A 4xx refusal is worth retrying; the wording says so.
_TEMPORARY = " The refusal is temporary: the message can be sent again later."


def _rebuild(cls: type[MailDeliveryError], state: dict[str, Any]) -> MailDeliveryError:
    error = cls.__new__(cls)
    Exception.__init__(error, state["user_message"])
    error.__dict__.update(state)
    return error


class MailDeliveryError(Exception):
    """A message could not be handed to the mail server; `user_message` says why and the fix."""

    transient_default: ClassVar[bool] = False
    messages: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        cause: str,
        *,
        step: str | None = None,
        smtp_code: int | None = None,
        smtp_reply: str = "",
        recipient: str | None = None,
        host: str = "",
        port: int | None = None,
        transient: bool | None = None,
        detail: str = "",
    ) -> None:
        if cause not in self.messages:
            raise ValueError(f"{type(self).__name__} has no cause {cause!r}")
        self.cause = cause
        self.step = step
        self.smtp_code = smtp_code
        self.smtp_reply = smtp_reply
        self.recipient = recipient
        self.host = host
        self.port = port
        self.transient = self.transient_default if transient is None else transient
        self.detail = detail
        self.user_message = self._user_message()
        super().__init__(self.user_message)

    def _user_message(self) -> str:
        reply = f"{self.smtp_code or ''} {self.smtp_reply}".strip()
        context = {
            "host": self.host or "the mail server",
            "port": self.port if self.port is not None else "?",
            "recipient": self.recipient or "",
            "step": self.step or "",
            # Refusals are often explained only by the server's own text.
            "said": f" The server said: “{reply}”." if reply else "",
            "detail": self.detail,
        }
        return self.messages[self.cause].format_map(context)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive Exception's default pickling (Celery results).
        return (_rebuild, (type(self), dict(self.__dict__)))


class MailConnectionError(MailDeliveryError):
    """The server could not be reached, or the connection broke before anything was sent."""

    transient_default = True
    messages: ClassVar[dict[str, str]] = {
        "connection_refused": (
            "{host} refused the connection on port {port}: nothing listens there, or a firewall "
            "rejects it. Check Mail server (host and port 25, 465 or 587) and ask the network "
            "administrator whether outgoing connections to that port are allowed."
        ),
        "timeout": (
            "{host} did not answer on port {port} in time ({detail}). The port is probably "
            "blocked by a firewall (many networks block port 25) or the server is down: try port "
            "587 with StartTLS or port 465 with SSL, or retry later."
        ),
        "connection_lost": (
            "The connection to {host} was lost before the message was sent ({detail}); nothing "
            "was delivered. Retry later."
        ),
        "host_not_found": (
            "The mail server name {host} cannot be found ({detail}). Check the spelling of Mail "
            "server."
        ),
        "connection_failed": (
            "Could not connect to {host} on port {port} ({detail}). Check Mail server and that "
            "this network can reach it."
        ),
        "host_not_allowed": (
            "{host} points to an internal address (a private, loopback or other non-public "
            "network), which mail servers named on a card may not use. Name the provider's public "
            "mail server; an administrator may allow internal servers with "
            "MAILER_ALLOW_PRIVATE_HOSTS."
        ),
    }


class MailTlsError(MailDeliveryError):
    """The encrypted connection could not be set up as configured; nothing was sent."""

    messages: ClassVar[dict[str, str]] = {
        "ssl_on_starttls_port": (
            "SSL was chosen, but {host} on port {port} starts unencrypted (a StartTLS port), so "
            "the SSL handshake failed ({detail}). Choose StartTLS / SSL / TLS for this port, or "
            "use port 465 with SSL."
        ),
        "plaintext_on_ssl_port": (
            "{host} on port {port} expects SSL from the first byte (implicit TLS) and never "
            "greeted the unencrypted connection. Choose SSL for port 465."
        ),
        "starttls_not_offered": (
            "StartTLS was chosen, but {host} on port {port} does not offer STARTTLS, so the "
            "connection cannot be encrypted; nothing was sent, no password either. Use port 465 "
            "with SSL if the server supports it, or ask its administrator to enable STARTTLS."
        ),
        "encryption_required": (
            "{host} accepts this only over an encrypted connection: choose StartTLS / SSL / TLS "
            "(port 587 or 25) or SSL (port 465).{said}"
        ),
        "certificate_untrusted": (
            "The certificate of {host} is not trusted ({detail}); nothing was sent. The server "
            "needs a certificate from a public certificate authority, or the platform "
            "administrator adds the issuing CA to MAILER_CA_BUNDLE."
        ),
        "certificate_hostname_mismatch": (
            "The certificate of the server is issued for another name than {host} ({detail}); "
            "nothing was sent. Enter the host name the provider documents (for example "
            "smtp.gmail.com) in Mail server, not an IP address or an alias."
        ),
        "tls_failed": (
            "The encrypted connection to {host} on port {port} failed ({detail}). Check SSL/TLS: "
            "SSL for port 465, StartTLS / SSL / TLS for ports 587 and 25."
        ),
    }


class MailAuthError(MailDeliveryError):
    """The server did not accept the card's credentials."""

    messages: ClassVar[dict[str, str]] = {
        "auth_required": (
            "{host} requires authentication: fill in Username and Password on the card (for "
            "Microsoft 365, choose Microsoft 365 OAUTH).{said}"
        ),
        "auth_not_offered": (
            "A username is set, but {host} on port {port} offers no usable authentication on this "
            "connection ({detail}). Many servers offer it only on an encrypted connection: choose "
            "StartTLS (port 587) or SSL (port 465), or clear Username if the server needs none."
        ),
        "auth_rejected": (
            "{host} rejected the username or password. Check Username (usually the full e-mail "
            "address) and Password on the card.{said}"
        ),
        "gmail_app_password_required": (
            "Gmail rejected the password: Gmail accepts only an app password here. Turn on "
            "2-Step Verification, create an app password (Google account → Security → App "
            "passwords) and enter its 16 characters as Password (spaces are removed)."
        ),
        "m365_smtp_auth_disabled": (
            "Microsoft 365 refused SMTP sign-in for this mailbox (5.7.139): Authenticated SMTP is "
            "disabled. Enable it in the Microsoft 365 Admin Center → Users → Active users → the "
            "user → Mail → Manage email apps → Authenticated SMTP (your administrator may have to "
            "allow it for the whole organisation)."
        ),
        "m365_basic_auth_retired": (
            "Microsoft 365 no longer accepts a username and password for SMTP (basic "
            "authentication is retired). Choose Microsoft 365 OAUTH as Mail sender and click "
            "Authenticate Microsoft 365."
        ),
        "m365_send_as_denied": (
            "Microsoft 365 refused to send as this From address (554 5.2.252 SendAsDenied): the "
            "mailbox that signed in has no Send As right for it. In the Exchange admin center give "
            "that (global) mailbox Send As rights for the user's address (Recipients → Mailboxes "
            "→ the user → Delegation → Send As), or authenticate Microsoft 365 on the user's own "
            "card."
        ),
    }


class XOAuth2Error(MailAuthError):
    """Microsoft 365 refused the OAuth token; the decoded 334 challenge says why."""

    messages: ClassVar[dict[str, str]] = {
        "xoauth2_rejected": (
            "Microsoft 365 refused the sign-in token ({detail}). Click Authenticate Microsoft 365 "
            "on the card again; if it keeps failing, check that the mailbox has Authenticated "
            "SMTP enabled (Admin Center → Users → Active users → Mail → Manage email apps)."
        ),
    }

    def __init__(
        self,
        cause: str = "xoauth2_rejected",
        *,
        status: str = "",
        schemes: str = "",
        scope: str = "",
        **kwargs: Any,
    ) -> None:
        self.status = status
        self.schemes = schemes
        self.scope = scope
        super().__init__(cause, **kwargs)


class MailThrottledError(MailDeliveryError):
    """The server asks to slow down, or the mailbox used up its sending allowance."""

    transient_default = True
    messages: ClassVar[dict[str, str]] = {
        "throttled": (
            "{host} asked to retry later (busy, or too many messages or connections).{said} "
            "The message can be sent again later; if this keeps happening, send fewer messages "
            "at a time."
        ),
        # Not transient: the allowance resets after hours, so an automatic retry only repeats
        # the failure; the user resends the rest when the day's limit has passed.
        "quota_exceeded": (
            "The mailbox has used up its sending limit (Microsoft 365: 10,000 recipients a day; "
            "Gmail: 500 to 2,000).{said} Wait until the limit resets (up to 24 hours), then "
            "send the remaining messages again."
        ),
    }


class SenderRefusedError(MailDeliveryError):
    """The server refused the envelope sender (MAIL FROM)."""

    messages: ClassVar[dict[str, str]] = {
        "sender_refused": (
            "{host} refused the sender address {detail}.{said} The account may send only as "
            "its own address (or addresses it was given rights to)."
        ),
    }


class RecipientRefusedError(MailDeliveryError):
    """The server refused a recipient (RCPT TO)."""

    messages: ClassVar[dict[str, str]] = {
        "recipient_refused": ("{host} refused the recipient {recipient}.{said} Check the address."),
    }

    def _user_message(self) -> str:
        return super()._user_message() + (_TEMPORARY if self.transient else "")


class MessageRefusedError(MailDeliveryError):
    """The server refused the message itself, or answered a step unexpectedly."""

    messages: ClassVar[dict[str, str]] = {
        "message_refused": "{host} refused the message.{said}",
        "server_rejected": "{host} answered the {step} step unexpectedly.{said}",
    }

    def _user_message(self) -> str:
        return super()._user_message() + (_TEMPORARY if self.transient else "")


class OutcomeUnknownError(MailDeliveryError):
    """The connection broke after the whole message was sent: it may have been delivered."""

    messages: ClassVar[dict[str, str]] = {
        "outcome_unknown": (
            "The connection to {host} was lost after the whole message was sent but before the "
            "server confirmed it ({detail}). It may have been delivered, so it is not sent again "
            "automatically: check the Sent folder or ask the recipient before resending."
        ),
    }


class InvalidAddressError(MailDeliveryError):
    """An envelope address cannot be used (refused before anything is sent)."""

    messages: ClassVar[dict[str, str]] = {
        "address_invalid": "The address “{detail}” cannot be used as an envelope address.",
        "smtputf8_not_supported": (
            "The address “{detail}” has non-ASCII characters, but {host} does not support "
            "SMTPUTF8; use an ASCII address."
        ),
    }


class MailSettingsError(MailDeliveryError):
    """The resolved settings are not ready: nothing is sent until they are completed."""

    messages: ClassVar[dict[str, str]] = {
        "settings_incomplete": "The mail settings are incomplete: {detail}",
    }


ERROR_CLASSES: dict[str, type[MailDeliveryError]] = {
    cause: cls
    for cls in (
        MailConnectionError,
        MailTlsError,
        MailAuthError,
        XOAuth2Error,
        MailThrottledError,
        SenderRefusedError,
        RecipientRefusedError,
        MessageRefusedError,
        OutcomeUnknownError,
        InvalidAddressError,
        MailSettingsError,
    )
    for cause in cls.messages
}
CAUSES = frozenset(ERROR_CLASSES)


def delivery_error(cause: str, **kwargs: Any) -> MailDeliveryError:
    """Return the named error for a cause code."""
    return ERROR_CLASSES[cause](cause, **kwargs)
