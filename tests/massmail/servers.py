"""A local SMTP server that counts concurrent sessions, answers 421 4.3.2 beyond a limit,
and may be slow at DATA (aiosmtpd, built on tests.smtp_servers)."""

from __future__ import annotations

import asyncio
import errno
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiosmtpd.smtp import MISSING

from tests.smtp_servers import (
    DEFAULT_PORTS,
    RecordingController,
    RecordingSMTP,
    Server,
    Sink,
    loopback_address,
)

TOO_MANY = (
    "421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, "
    "closing transmission channel"
)


@dataclass
class LimitedSink(Sink):
    max_connections: int | None = None
    data_delay: float = 0.0
    active: int = 0
    peak: int = 0
    rejected: int = 0
    over: set[int] = field(default_factory=set)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> Any:
        if server.connection_no in self.over:
            self.rejected += 1
            return TOO_MANY
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> Any:
        # Counted out before "221": a client that got its answer has left.
        server.leave()
        return MISSING


class CountingSMTP(RecordingSMTP):
    _counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            sink = self.event_handler
            self._counted = True
            sink.active += 1
            sink.peak = max(sink.peak, sink.active)
            if sink.max_connections is not None and sink.active > sink.max_connections:
                sink.over.add(self.connection_no)

    def connection_lost(self, error: Exception | None) -> None:
        self.leave()
        super().connection_lost(error)

    def leave(self) -> None:
        if self._counted:
            self._counted = False
            self.event_handler.active -= 1


class CountingController(RecordingController):
    def factory(self) -> CountingSMTP:
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


def limited_server_start(
    *,
    ca: trustme.CA,
    controllers: list[Any],
    tls: str = "no",
    users: dict[str, str] | None = None,
    max_connections: int | None = None,
    data_delay: float = 0.0,
) -> Server:
    """Start a counting server on a random loopback address (its certificate names it)."""
    sink = LimitedSink(
        users=dict(users or {}), max_connections=max_connections, data_delay=data_delay
    )
    for _ in range(20):
        address = loopback_address()
        kwargs: dict[str, Any] = {
            "authenticator": sink.authenticate,
            "auth_exclude_mechanism": ["XOAUTH2"],
            "auth_require_tls": tls == "starttls",
            "server_hostname": address,
        }
        if tls != "no":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(address).configure_cert(context)
            kwargs["tls_context" if tls == "starttls" else "ssl_context"] = context
        controller = CountingController(
            sink, hostname=address, port=DEFAULT_PORTS[tls], ready_timeout=5, **kwargs
        )
        try:
            controller.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            controller.stop(no_assert=True)
            continue
        controllers.append(controller)
        deadline = time.monotonic() + 2
        while sink.active and time.monotonic() < deadline:  # the start-up probe leaving
            time.sleep(0.01)
        sink.reset()
        sink.peak = sink.rejected = 0
        sink.over.clear()
        return Server(address=address, port=controller.port, sink=sink, name=address)
    raise RuntimeError("no free loopback address found")
