"""Why mail could not be sent: each cause code with its message (SPEC.md "Errors a user sees")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, gettext_noop

from events.errors import ErrorCause, Param
from mailer.missing import missing_render

# Replies are often explained only by the server's own text.
_SAID = gettext_noop("The server said: “{reply}”.")
# A 4xx refusal is worth retrying; the wording says so.
_TEMPORARY = gettext_noop("The refusal is temporary: the message can be sent again later.")
# Where a failure names no host.
_NO_HOST = gettext_noop("the mail server")
#: The fixed `detail` texts of this app's code: stored in English (a parameter), shown translated.
DETAILS = (
    gettext_noop("no address"),
    gettext_noop("the certificate has expired"),
    gettext_noop("connected, but the server sent no greeting"),
    gettext_noop("the server does not advertise AUTH"),
    gettext_noop("the server gave no reason"),
    # With values (a `detail_text` parameter names the template, mailer.causes.detail_params).
    gettext_noop("no answer while connecting"),
    gettext_noop("no answer while waiting at step {step}"),
    gettext_noop("it offers only {mechanisms}"),
    gettext_noop("it lists no mechanism"),
    gettext_noop("no XOAUTH2; it offers {mechanisms}"),
    gettext_noop("no XOAUTH2; it lists no mechanism"),
    # Why the Django backend cannot tell the sending card (SENDER_UNKNOWN).
    gettext_noop("no card has the code {code}"),
    gettext_noop("no card with e-mail “{address}”"),
    gettext_noop("several cards with e-mail “{address}”"),
    # What a 334 challenge status of a failed XOAUTH2 means (RFC 7628, as Microsoft uses them).
    gettext_noop("status {xoauth2_status}: the token request was malformed"),
    gettext_noop("status {xoauth2_status}: the token is invalid, expired or revoked"),
    gettext_noop("status {xoauth2_status}: the token lacks the permission to send mail"),
    gettext_noop("status {xoauth2_status}: the token was refused"),
    gettext_noop(
        "status {xoauth2_status}: the token request was malformed; required scope {xoauth2_scope}"
    ),
    gettext_noop(
        "status {xoauth2_status}: the token is invalid, expired or revoked; required scope "
        "{xoauth2_scope}"
    ),
    gettext_noop(
        "status {xoauth2_status}: the token lacks the permission to send mail; required scope "
        "{xoauth2_scope}"
    ),
    gettext_noop("status {xoauth2_status}: the token was refused; required scope {xoauth2_scope}"),
)
#: The `field` names of mailer.messages.message_check (HEADER_INJECTION), shown translated.
FIELDS = (
    gettext_noop("subject"),
    gettext_noop("sender address"),
    gettext_noop("recipient address"),
    gettext_noop("Cc address"),
    gettext_noop("Bcc address"),
    gettext_noop("Reply-To address"),
)


def detail_params(template: str, **values: Param) -> dict[str, Param]:
    """Return the parameters of a fixed `detail` with values (a template of DETAILS).

    `detail` keeps the English text (for readers that know no template); `detail_text` names
    the template, which is translated and filled from the parameters when the text is made.
    """
    return {"detail": template.format_map(values), "detail_text": template, **values}


class MailCause(ErrorCause):
    """Why mail could not be sent: SMTP, TLS and network failures, and refusals before sending.

    Parameters: `host`, `port`, `step`, `recipient`, `detail`, `smtp_code`, `smtp_reply` and
    `transient` of the failure (`said` and `temporary` are made from them when rendered).
    """

    # MailConnectionError
    CONNECTION_REFUSED = (
        "connection_refused",
        gettext_noop(
            "{host} refused the connection on port {port}: nothing listens there, or a firewall "
            "rejects it. Check Mail server (host and port 25, 465 or 587) and ask the network "
            "administrator whether outgoing connections to that port are allowed."
        ),
    )
    TIMEOUT = (
        "timeout",
        gettext_noop(
            "{host} did not answer on port {port} in time ({detail}). The port is probably "
            "blocked by a firewall (many networks block port 25) or the server is down: try port "
            "587 with StartTLS or port 465 with SSL, or retry later."
        ),
    )
    CONNECTION_LOST = (
        "connection_lost",
        gettext_noop(
            "The connection to {host} was lost before the message was sent ({detail}); nothing "
            "was delivered. Retry later."
        ),
    )
    HOST_NOT_FOUND = (
        "host_not_found",
        gettext_noop(
            "The mail server name {host} cannot be found ({detail}). Check the spelling of Mail "
            "server."
        ),
    )
    CONNECTION_FAILED = (
        "connection_failed",
        gettext_noop(
            "Could not connect to {host} on port {port} ({detail}). Check Mail server and that "
            "this network can reach it."
        ),
    )
    HOST_NOT_ALLOWED = (
        "host_not_allowed",
        gettext_noop(
            "{host} points to an internal address (a private, loopback or other non-public "
            "network), which mail servers named on a card may not use. Name the provider's public "
            "mail server; an administrator may allow internal servers with "
            "MAILER_ALLOW_PRIVATE_HOSTS."
        ),
    )
    # MailTlsError
    SSL_ON_STARTTLS_PORT = (
        "ssl_on_starttls_port",
        gettext_noop(
            "SSL was chosen, but {host} on port {port} starts unencrypted (a StartTLS port), so "
            "the SSL handshake failed ({detail}). Choose StartTLS / SSL / TLS for this port, or "
            "use port 465 with SSL."
        ),
    )
    PLAINTEXT_ON_SSL_PORT = (
        "plaintext_on_ssl_port",
        gettext_noop(
            "{host} on port {port} expects SSL from the first byte (implicit TLS) and never "
            "greeted the unencrypted connection. Choose SSL for port 465."
        ),
    )
    STARTTLS_NOT_OFFERED = (
        "starttls_not_offered",
        gettext_noop(
            "StartTLS was chosen, but {host} on port {port} does not offer STARTTLS, so the "
            "connection cannot be encrypted; nothing was sent, no password either. Use port 465 "
            "with SSL if the server supports it, or ask its administrator to enable STARTTLS."
        ),
    )
    ENCRYPTION_REQUIRED = (
        "encryption_required",
        gettext_noop(
            "{host} accepts this only over an encrypted connection: choose StartTLS / SSL / TLS "
            "(port 587 or 25) or SSL (port 465).{said}"
        ),
    )
    CERTIFICATE_UNTRUSTED = (
        "certificate_untrusted",
        gettext_noop(
            "The certificate of {host} is not trusted ({detail}); nothing was sent. The server "
            "needs a certificate from a public certificate authority, or the platform "
            "administrator adds the issuing CA to MAILER_CA_BUNDLE."
        ),
    )
    CERTIFICATE_HOSTNAME_MISMATCH = (
        "certificate_hostname_mismatch",
        gettext_noop(
            "The certificate of the server is issued for another name than {host} ({detail}); "
            "nothing was sent. Enter the host name the provider documents (for example "
            "smtp.gmail.com) in Mail server, not an IP address or an alias."
        ),
    )
    TLS_FAILED = (
        "tls_failed",
        gettext_noop(
            "The encrypted connection to {host} on port {port} failed ({detail}). Check SSL/TLS: "
            "SSL for port 465, StartTLS / SSL / TLS for ports 587 and 25."
        ),
    )
    # MailAuthError
    AUTH_REQUIRED = (
        "auth_required",
        gettext_noop(
            "{host} requires authentication: fill in Username and Password on the card (for "
            "Microsoft 365, choose Microsoft 365 OAUTH).{said}"
        ),
    )
    AUTH_NOT_OFFERED = (
        "auth_not_offered",
        gettext_noop(
            "A username is set, but {host} on port {port} offers no usable authentication on this "
            "connection ({detail}). Many servers offer it only on an encrypted connection: choose "
            "StartTLS (port 587) or SSL (port 465), or clear Username if the server needs none."
        ),
    )
    AUTH_REJECTED = (
        "auth_rejected",
        gettext_noop(
            "{host} rejected the username or password. Check Username (usually the full e-mail "
            "address) and Password on the card.{said}"
        ),
    )
    GMAIL_APP_PASSWORD_REQUIRED = (
        "gmail_app_password_required",
        gettext_noop(
            "Gmail rejected the password: Gmail accepts only an app password here. Turn on "
            "2-Step Verification, create an app password (Google account → Security → App "
            "passwords) and enter its 16 characters as Password (spaces are removed)."
        ),
    )
    M365_SMTP_AUTH_DISABLED = (
        "m365_smtp_auth_disabled",
        gettext_noop(
            "Microsoft 365 refused SMTP sign-in for this mailbox (5.7.139): Authenticated SMTP is "
            "disabled. Enable it in the Microsoft 365 Admin Center → Users → Active users → the "
            "user → Mail → Manage email apps → Authenticated SMTP (your administrator may have to "
            "allow it for the whole organisation)."
        ),
    )
    M365_BASIC_AUTH_RETIRED = (
        "m365_basic_auth_retired",
        gettext_noop(
            "Microsoft 365 no longer accepts a username and password for SMTP (basic "
            "authentication is retired). Choose Microsoft 365 OAUTH as Mail sender and click "
            "Authenticate Microsoft 365."
        ),
    )
    M365_SEND_AS_DENIED = (
        "m365_send_as_denied",
        gettext_noop(
            "Microsoft 365 refused to send as this From address (554 5.2.252 SendAsDenied): the "
            "mailbox that signed in has no Send As right for it. In the Exchange admin center give "
            "that (global) mailbox Send As rights for the user's address (Recipients → Mailboxes "
            "→ the user → Delegation → Send As), or authenticate Microsoft 365 on the user's own "
            "card."
        ),
    )
    # XOAuth2Error
    XOAUTH2_REJECTED = (
        "xoauth2_rejected",
        gettext_noop(
            "Microsoft 365 refused the sign-in token ({detail}). Click Authenticate Microsoft 365 "
            "on the card again; if it keeps failing, check that the mailbox has Authenticated "
            "SMTP enabled (Admin Center → Users → Active users → Mail → Manage email apps)."
        ),
    )
    # MailThrottledError
    THROTTLED = (
        "throttled",
        gettext_noop(
            "{host} asked to retry later (busy, or too many messages or connections).{said} "
            "The message can be sent again later; if this keeps happening, send fewer messages "
            "at a time."
        ),
    )
    QUOTA_EXCEEDED = (
        "quota_exceeded",
        gettext_noop(
            "The mailbox has used up its sending limit (Microsoft 365: 10,000 recipients a day; "
            "Gmail: 500 to 2,000).{said} Wait until the limit resets (up to 24 hours), then "
            "send the remaining messages again."
        ),
    )
    # SenderRefusedError
    SENDER_REFUSED = (
        "sender_refused",
        gettext_noop(
            "{host} refused the sender address {detail}.{said} The account may send only as "
            "its own address (or addresses it was given rights to)."
        ),
    )
    # RecipientRefusedError
    RECIPIENT_REFUSED = (
        "recipient_refused",
        gettext_noop(
            "{host} refused the recipient {recipient}.{said} Check the address.{temporary}"
        ),
    )
    # MessageRefusedError
    MESSAGE_REFUSED = (
        "message_refused",
        gettext_noop("{host} refused the message.{said}{temporary}"),
    )
    SERVER_REJECTED = (
        "server_rejected",
        gettext_noop("{host} answered the {step} step unexpectedly.{said}{temporary}"),
    )
    # OutcomeUnknownError
    OUTCOME_UNKNOWN = (
        "outcome_unknown",
        gettext_noop(
            "The connection to {host} was lost after the whole message was sent but before the "
            "server confirmed it ({detail}). It may have been delivered, so it is not sent again "
            "automatically: check the Sent folder or ask the recipient before resending."
        ),
    )
    # InvalidAddressError
    ADDRESS_INVALID = (
        "address_invalid",
        gettext_noop("The address “{detail}” cannot be used as an envelope address."),
    )
    SMTPUTF8_NOT_SUPPORTED = (
        "smtputf8_not_supported",
        gettext_noop(
            "The address “{detail}” has non-ASCII characters, but {host} does not support "
            "SMTPUTF8; use an ASCII address."
        ),
    )
    # MailSettingsError
    SETTINGS_INCOMPLETE = (
        "settings_incomplete",
        gettext_noop("The mail settings are incomplete: {detail}"),
    )

    # UnknownSenderError (mailer.backends)
    SENDER_UNKNOWN = (
        "sender_unknown",
        gettext_noop(
            "No single user card matches this message ({detail}). Name the user with the "
            "X-Directo-User header or send from the card's own e-mail address."
        ),
    )
    # HeaderInjectionError (mailer.messages)
    HEADER_INJECTION = (
        "header_injection",
        gettext_noop(
            "The {field} contains a line break, which could inject mail headers; remove the "
            "line break and send again."
        ),
    )
    # MailTestRateLimitedError (mailer.services)
    TEST_MAIL_RATE_LIMITED = (
        "test_mail_rate_limited",
        gettext_noop("At most {limit} test e-mails a minute: wait a minute and try again."),
    )

    def context(self, params: Mapping[str, Param]) -> dict[str, Any]:
        context = super().context(params)
        reply = f"{params.get('smtp_code') or ''} {params.get('smtp_reply') or ''}".strip()
        # The fragments are translated here, when the text is made, like the template itself.
        context["host"] = params.get("host") or gettext(_NO_HOST)
        context["port"] = "?" if params.get("port") is None else params["port"]
        context["said"] = " " + gettext(_SAID).format(reply=reply) if reply else ""
        context["temporary"] = " " + gettext(_TEMPORARY) if params.get("transient") else ""
        detail = params.get("detail_text") or params.get("detail")
        if isinstance(detail, str) and detail in DETAILS:
            context["detail"] = gettext(detail).format_map(context)
        # settings_incomplete: the resolver's reasons, each made into text now (old rows: detail).
        missing = missing_render(params)
        if missing:
            context["detail"] = missing
        field = params.get("field")
        if isinstance(field, str) and field in FIELDS:
            context["field"] = gettext(field)
        return context
