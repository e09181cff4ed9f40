"""SMTP sessions through smtplib: TLS as configured, authentication, and named errors.

Like `django.core.mail`, a thin facade over its parts: `connection` (TLS context, socket,
greeting, EHLO, STARTTLS), `auth` (PLAIN/LOGIN, XOAUTH2), `send` (the MAIL/RCPT/DATA
transaction), `probe` (the dry run), `transcript` (what a user may see, redacted) and `smtp`
(`SmtpTransport`, the session that composes them). Nothing here reads a card or the resolver:
`mailer.services.mail_transport_get` turns resolved settings into a transport.
"""

from mailer.transport.auth import Revealable, TokenProvider
from mailer.transport.connection import SSL_TLS_MODES, ssl_context_create
from mailer.transport.probe import ProbeResult
from mailer.transport.send import RecipientResult, SendResult, data_payload
from mailer.transport.smtp import SmtpTransport
from mailer.transport.transcript import REDACTED, TranscriptStep

__all__ = [
    "REDACTED",
    "SSL_TLS_MODES",
    "ProbeResult",
    "RecipientResult",
    "Revealable",
    "SendResult",
    "SmtpTransport",
    "TokenProvider",
    "TranscriptStep",
    "data_payload",
    "ssl_context_create",
]
