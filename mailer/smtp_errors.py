"""Turn SMTP replies and socket/TLS failures into the named errors of mailer.exceptions."""

from __future__ import annotations

import re
import socket
import ssl

from mailer.causes import MailCause, detail_params
from mailer.exceptions import MailDeliveryError, Step, delivery_error
from users.providers import is_gmail_host, is_microsoft_365_host

# OpenSSL's X509_V_ERR_* codes (x509_vfy.h) that mean "no trusted chain" or "wrong name".
_X509_HOSTNAME_MISMATCH = {62, 64}  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
_X509_EXPIRED = 10
# What OpenSSL reports when the "TLS record" it reads is really a plaintext SMTP banner.
_PLAINTEXT_PEER = ("wrong version number", "packet length too long", "http request")

_GMAIL_REPLY = re.compile(r"gsmtp|support\.google\.com|BadCredentials", re.IGNORECASE)
_M365_REPLY = re.compile(r"outlook\.com|office365|STOREDRV|prod\.outlook", re.IGNORECASE)
_SENDING_QUOTA = re.compile(
    r"SubmissionQuotaExceeded|sending (?:limit|quota)|quota exceeded for sending", re.IGNORECASE
)
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_status(reply: str) -> str:
    """Return the RFC 3463 enhanced status code in a reply text ("5.7.139"), or ""."""
    match = _ENHANCED.search(reply)
    return match.group(0) if match else ""


def _provider_cause(
    *, code: int, reply: str, step: str, host: str, mechanism: str
) -> MailCause | None:
    """Return the cause of a reply that a provider explains with its own codes, or None."""
    status = enhanced_status(reply)
    gmail = is_gmail_host(host) or bool(_GMAIL_REPLY.search(reply))
    m365 = is_microsoft_365_host(host) or bool(_M365_REPLY.search(reply))
    if status == "5.7.30":
        return MailCause.M365_BASIC_AUTH_RETIRED
    if status == "5.7.139":
        return MailCause.M365_SMTP_AUTH_DISABLED
    if status == "5.2.252" or "sendasdenied" in reply.lower():
        return MailCause.M365_SEND_AS_DENIED
    if _SENDING_QUOTA.search(reply) or (gmail and status == "5.4.5"):
        return MailCause.QUOTA_EXCEEDED
    if step == Step.AUTH and code >= 500:
        if mechanism == "XOAUTH2":
            return MailCause.XOAUTH2_REJECTED
        # Gmail: 534 5.7.9 "Application-specific password required", 535 5.7.8 "Username and
        # Password not accepted", 534 5.7.14 "Please log in with your web browser".
        if gmail and status in ("5.7.9", "5.7.8", "5.7.14"):
            return MailCause.GMAIL_APP_PASSWORD_REQUIRED
        if m365 and status == "5.7.3":
            # "535 5.7.3 Authentication unsuccessful" to a password since basic auth retired.
            return MailCause.M365_BASIC_AUTH_RETIRED
    return None


def smtp_reply_error(
    *,
    step: str,
    code: int,
    reply: str,
    host: str = "",
    port: int | None = None,
    recipient: str | None = None,
    sender: str = "",
    mechanism: str = "",
) -> MailDeliveryError:
    """Return the named error for an unwanted SMTP reply at a step (reply already redacted)."""
    transient = 400 <= code < 500
    cause = _provider_cause(code=code, reply=reply, step=step, host=host, mechanism=mechanism)
    if cause is None:
        if code == 538 or (code == 530 and "starttls" in reply.lower()):
            # 530 "Must issue a STARTTLS command first", 538 "Encryption required" (RFC 4954).
            cause = MailCause.ENCRYPTION_REQUIRED
        elif code == 530:
            cause = MailCause.AUTH_REQUIRED
        elif step == Step.RCPT and code >= 400:
            cause = MailCause.RECIPIENT_REFUSED
        elif transient:
            # 421 "closing channel", 4.3.2 "system not accepting messages" and every other 4xx.
            cause = MailCause.THROTTLED
        elif step == Step.AUTH and code >= 500:
            cause = MailCause.AUTH_REJECTED
        elif step == Step.MAIL and code >= 500:
            cause = MailCause.SENDER_REFUSED
        elif step == Step.DATA and code >= 500:
            cause = MailCause.MESSAGE_REFUSED
        else:
            cause = MailCause.SERVER_REJECTED
    return delivery_error(
        cause,
        step=step,
        smtp_code=code,
        smtp_reply=reply,
        recipient=recipient,
        host=host,
        port=port,
        transient=transient,
        detail=sender if cause == MailCause.SENDER_REFUSED else "",
    )


def tls_error(
    exc: ssl.SSLError, *, step: str, host: str, port: int | None, ssl_tls: str
) -> MailDeliveryError:
    """Return the named error for a failed TLS handshake."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = (exc.verify_message or str(exc.reason or exc)).rstrip(".")
        if exc.verify_code in _X509_HOSTNAME_MISMATCH:
            cause = MailCause.CERTIFICATE_HOSTNAME_MISMATCH
        else:
            cause = MailCause.CERTIFICATE_UNTRUSTED
            if exc.verify_code == _X509_EXPIRED:
                detail = "the certificate has expired"
        return delivery_error(cause, step=step, host=host, port=port, detail=detail)
    text = f"{exc.reason or ''} {exc}".lower()
    if ssl_tls == "ssl" and any(marker in text for marker in _PLAINTEXT_PEER):
        return delivery_error(
            MailCause.SSL_ON_STARTTLS_PORT,
            step=step,
            host=host,
            port=port,
            detail=str(exc.reason or exc),
        )
    return delivery_error(
        MailCause.TLS_FAILED, step=step, host=host, port=port, detail=str(exc.reason)
    )


def network_error(
    exc: OSError,
    *,
    step: str,
    host: str,
    port: int | None,
    ssl_tls: str = "",
    phase: str = "session",
) -> MailDeliveryError:
    """Return the named error for a socket failure before any message data was sent.

    `phase` is "tcp" while connecting, "banner" while waiting for the greeting on an open
    connection, and "session" afterwards.
    """
    common = {"step": step, "host": host, "port": port}
    if isinstance(exc, socket.gaierror):
        # EAI_AGAIN is a resolver hiccup; "name unknown" will not fix itself.
        transient = exc.errno == socket.EAI_AGAIN
        return delivery_error(
            MailCause.HOST_NOT_FOUND, transient=transient, detail=exc.strerror or str(exc), **common
        )
    if isinstance(exc, ConnectionRefusedError):
        return delivery_error(MailCause.CONNECTION_REFUSED, **common)
    if isinstance(exc, TimeoutError):
        if phase == "banner":
            if port == 465 and ssl_tls != "ssl":
                # An implicit-TLS server waits for our TLS hello; we wait for its greeting.
                return delivery_error(MailCause.PLAINTEXT_ON_SSL_PORT, **common)
            return delivery_error(
                MailCause.TIMEOUT, detail="connected, but the server sent no greeting", **common
            )
        if phase == "tcp":
            extra = detail_params("no answer while connecting")
        else:
            extra = detail_params("no answer while waiting at step {step}", step=step)
        return delivery_error(MailCause.TIMEOUT, extra=extra, **common)
    detail = exc.strerror or str(exc) or type(exc).__name__
    if phase == "tcp":
        return delivery_error(MailCause.CONNECTION_FAILED, detail=detail, **common)
    return delivery_error(MailCause.CONNECTION_LOST, detail=detail, **common)
