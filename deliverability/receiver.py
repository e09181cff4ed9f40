"""The event mailbox: an SMTP receiver for `*@EVENT_MAILBOX_DOMAIN` that stores what arrives."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections, connections

from deliverability.services import inbound_message_receive

logger = logging.getLogger(__name__)

#: A larger message is refused with 552 (RFC 5321 §4.5.3.1.10) and never held in memory.
MESSAGE_SIZE_LIMIT = 10 * 1024 * 1024
RECIPIENT_LIMIT = 50
SESSION_TIMEOUT = 60.0
IDENT = "Directo event mailbox"


def event_domain_get() -> str:
    """Return the event mailbox domain, read from settings at call time."""
    return str(settings.EVENT_MAILBOX_DOMAIN).strip().rstrip(".").lower()


def _store(envelope_from: str, rcpt_tos: list[str], raw: bytes, peer: str) -> None:
    close_old_connections()
    try:
        inbound_message_receive(envelope_from=envelope_from, rcpt_tos=rcpt_tos, raw=raw, peer=peer)
    finally:
        # Each worker thread holds its own connection: give it back after every message.
        connections.close_all()


class EventMailboxHandler:
    """aiosmtpd handler: accept mail only for the event domain and record each message."""

    def __init__(self, domain: str | None = None) -> None:
        self._domain = domain

    @property
    def domain(self) -> str:
        return self._domain or event_domain_get()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        domain = address.rpartition("@")[2].rstrip(".").lower()
        if not address.partition("@")[0] or domain != self.domain:
            return f"550 5.1.1 This server accepts mail only for @{self.domain}"
        if len(envelope.rcpt_tos) >= RECIPIENT_LIMIT:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # only with decode_data=True, which the controller never sets
            raw = raw.encode("utf-8", "surrogateescape")
        peer = str(session.peer[0]) if isinstance(session.peer, tuple) else str(session.peer)
        # Bounces come from the null sender, which aiosmtpd reports as "<>".
        mail_from = str(envelope.mail_from or "").strip().removeprefix("<").removesuffix(">")
        try:
            await asyncio.to_thread(_store, mail_from, list(envelope.rcpt_tos), bytes(raw), peer)
        except Exception:
            # Never crash the session or leak internals to the peer: the sender retries later.
            logger.exception("Event mailbox could not store a message from %s", peer)
            return "451 4.3.0 Could not store the message; try again later"
        return "250 2.0.0 Message accepted"


class EventMailboxController(Controller):
    """The receiver in its own thread and event loop (aiosmtpd's Controller)."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 2525, domain: str | None = None, **kw: Any
    ) -> None:
        kw.setdefault("data_size_limit", MESSAGE_SIZE_LIMIT)
        kw.setdefault("timeout", SESSION_TIMEOUT)
        kw.setdefault("ident", IDENT)
        super().__init__(EventMailboxHandler(domain), hostname=host, port=port, **kw)
