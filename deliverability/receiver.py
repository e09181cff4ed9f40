"""The event mailbox: an SMTP receiver for `*@EVENT_MAILBOX_DOMAIN` that stores what arrives."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections, connections

from deliverability.limits import ClientThrottle, MailboxLimits, mailbox_limits_get
from deliverability.services import inbound_message_receive
from mailer.outages import DATABASE_ERRORS, database_retry, error_summary

logger = logging.getLogger(__name__)

#: The default of EVENT_MAILBOX_MAX_MESSAGE_SIZE. A larger message is refused with 552
#: (RFC 5321 §4.5.3.1.10) while it arrives and is never held in memory; EHLO advertises it.
MESSAGE_SIZE_LIMIT = 10 * 1024 * 1024
RECIPIENT_LIMIT = 50
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections from your address; try again later"
TOO_MANY_MESSAGES = "451 4.7.1 Too many messages from your address; try again in a minute"
DATABASE_DOWN = "451 4.3.0 Could not store the message; try again later"
#: How long one message waits for the database to come back before the sender is told 451.
STORE_RETRY_SECONDS = 5.0
SESSION_TIMEOUT = 60.0
IDENT = "Directo event mailbox"


def event_domain_get() -> str:
    """Return the event mailbox domain, read from settings at call time."""
    return str(settings.EVENT_MAILBOX_DOMAIN).strip().rstrip(".").lower()


def _store(envelope_from: str, rcpt_tos: list[str], raw: bytes, peer: str) -> None:
    close_old_connections()
    try:
        # A restarted database cut the connection: store again on a fresh one, briefly.
        database_retry(
            lambda: inbound_message_receive(
                envelope_from=envelope_from, rcpt_tos=rcpt_tos, raw=raw, peer=peer
            ),
            until=time.monotonic() + STORE_RETRY_SECONDS,
            cap=1.0,
        )
    finally:
        # Each worker thread holds its own connection: give it back after every message.
        connections.close_all()


def client_of(session: Session) -> str:
    """Return the client's address (its IP) of an SMTP session."""
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


class EventMailboxHandler:
    """aiosmtpd handler: accept mail only for the event domain and record each message."""

    def __init__(self, domain: str | None = None, *, throttle: ClientThrottle) -> None:
        self._domain = domain
        self.throttle = throttle

    @property
    def domain(self) -> str:
        return self._domain or event_domain_get()

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if not self.throttle.message_allowed(client_of(session)):
            return TOO_MANY_MESSAGES
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

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
        peer = client_of(session)
        # Counted when the message is complete: parallel connections cannot pass the rate.
        if not self.throttle.message_take(peer):
            return TOO_MANY_MESSAGES
        # Bounces come from the null sender, which aiosmtpd reports as "<>".
        mail_from = str(envelope.mail_from or "").strip().removeprefix("<").removesuffix(">")
        try:
            await asyncio.to_thread(_store, mail_from, list(envelope.rcpt_tos), bytes(raw), peer)
        except DATABASE_ERRORS as exc:
            # RFC 5321 §4.2.5: a 4xx after DATA makes the sender keep the message and retry.
            logger.warning(
                "Event mailbox: the database is unreachable (%s); answered 451 to %s",
                error_summary(exc),
                peer,
            )
            return DATABASE_DOWN
        except Exception:
            # Never crash the session or leak internals to the peer: the sender retries later.
            logger.exception("Event mailbox could not store a message from %s", peer)
            return "451 4.3.0 Could not store the message; try again later"
        return "250 2.0.0 Message accepted"


class EventMailboxSMTP(SMTP):
    """aiosmtpd's SMTP session with a cap on simultaneous connections per client address."""

    def __init__(self, handler: EventMailboxHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._throttle = handler.throttle
        self._client: str | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # STARTTLS calls this again on the same connection
        super().connection_made(transport)
        if first and self.session is not None:
            client = client_of(self.session)
            if self._throttle.connection_open(client):
                self._client = client
            else:
                self._refused = True

    def connection_lost(self, error: Exception | None) -> None:
        if self._client is not None:
            self._throttle.connection_close(self._client)
            self._client = None
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self._refused:
            # RFC 5321 §3.1: a server may answer the connection with 421 and close it.
            await self.push(TOO_MANY_CONNECTIONS)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()


class EventMailboxController(Controller):
    """The receiver in its own thread and event loop (aiosmtpd's Controller).

    `limits` defaults to the EVENT_MAILBOX_* settings, read when the receiver is made.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        domain: str | None = None,
        limits: MailboxLimits | None = None,
        **kw: Any,
    ) -> None:
        limits = limits or mailbox_limits_get()
        self.throttle = ClientThrottle(limits)
        kw.setdefault("data_size_limit", limits.max_message_size)
        kw.setdefault("timeout", SESSION_TIMEOUT)
        kw.setdefault("ident", IDENT)
        handler = EventMailboxHandler(domain, throttle=self.throttle)
        super().__init__(handler, hostname=host, port=port, **kw)

    def factory(self) -> SMTP:
        return EventMailboxSMTP(self.handler, **self.SMTP_kwargs)
