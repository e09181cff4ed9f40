"""A fast local SMTP sink: STARTTLS, AUTH PLAIN/LOGIN, counting, in a process of its own.

Run as `python -m bench.sink --cert C --key K --listen 127.0.0.1:587 --control PORT`. It
accepts every message after STARTTLS and AUTH (one password for every user), counts
connections, sessions, messages, bytes and duplicate Message-IDs, and, when told a limit,
answers `421 4.3.2` to MAIL in a user's sessions beyond that many concurrent ones (Microsoft
365's "concurrent connections" answer) and counts those answers. Its own CPU time is part of
its statistics, so the benchmark can report it apart from the clients'.

The control port speaks one JSON object per line: {"cmd": "stats"}, {"cmd": "reset"},
{"cmd": "limit", "sessions_per_user": 3} (null: no limit), {"cmd": "stop"}. Those act on the
listeners of the command line, which share one count. `{"cmd": "serve", "host": H, "port": P,
"tls": "starttls"|"ssl", "sessions_per_user": N, "rate": [count, seconds]}` adds a listener
with counts and limits of its own (a mail server of its own: the month-end scenario), and
`"listener": "H:P"` in stats, reset and limit picks it. A listener with a rate answers
`450 4.3.2` to MAIL beyond `count` messages in any `seconds` (less a latency tolerance), as
Microsoft 365 throttles a mailbox, and counts those answers with the session ones.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import resource
import socket
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TOO_MANY = (
    b"421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, "
    b"closing transmission channel\r\n"
)
_END = b"\r\n.\r\n"
TOO_FAST = b"450 4.3.2 Message submission rate for this mailbox exceeded, try again later\r\n"
_READ_LIMIT = 8 * 1024 * 1024  # one message must fit in the reader's buffer


@dataclass
class SinkState:
    password: str
    tls: ssl.SSLContext
    sessions_per_user: int | None = None
    rate: tuple[int, float] | None = None  # (messages, seconds) per mailbox, tolerance taken
    implicit_tls: bool = False  # port 465: TLS from the first byte
    connections: int = 0
    active: int = 0
    peak_active: int = 0
    authenticated: Counter[str] = field(default_factory=Counter)
    peak_per_user: int = 0
    auths: int = 0
    auth_failures: int = 0
    messages: int = 0
    received_bytes: int = 0
    rejected_432: int = 0
    rejected_432_rate: int = 0  # of rejected_432: answers to a mailbox over its rate
    duplicates: int = 0
    message_ids: set[bytes] = field(default_factory=set)
    stamps: list[float] = field(default_factory=list)  # monotonic time of each accepted DATA
    mail_stamps: dict[str, list[float]] = field(default_factory=dict)  # accepted MAIL, by user

    def reset(self) -> None:
        self.connections = self.auths = self.auth_failures = self.messages = 0
        self.received_bytes = self.rejected_432 = self.rejected_432_rate = self.duplicates = 0
        self.peak_active = self.active
        self.peak_per_user = max(self.authenticated.values(), default=0)
        self.message_ids.clear()
        self.stamps.clear()
        self.mail_stamps.clear()

    def rate_exceeded(self, user: str) -> bool:
        """Take one message of the user's rate (at MAIL); True: over it, nothing taken."""
        if self.rate is None:
            return False
        count, seconds = self.rate
        now = time.monotonic()
        stamps = [stamp for stamp in self.mail_stamps.get(user, ()) if stamp > now - seconds]
        if len(stamps) >= count:
            self.mail_stamps[user] = stamps
            return True
        self.mail_stamps[user] = [*stamps, now]
        return False

    def stats(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "connections": self.connections,
            "active": self.active,
            "peak_active": self.peak_active,
            "peak_sessions_per_user": self.peak_per_user,
            "auths": self.auths,
            "auth_failures": self.auth_failures,
            "messages": self.messages,
            "bytes": self.received_bytes,
            "rejected_432": self.rejected_432,
            "rejected_432_rate": self.rejected_432_rate,
            "duplicates": self.duplicates,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "max_rss_kb": usage.ru_maxrss,
            "stamps": self.stamps[:],
            "now": time.monotonic(),
        }


def _message_id(data: bytes) -> bytes | None:
    head = data[: data.find(b"\r\n\r\n")]
    for name in (b"\r\nMessage-ID:", b"\r\nMessage-Id:", b"\r\nmessage-id:"):
        start = head.find(name)
        if start >= 0:
            start += len(name)
            end = head.find(b"\r\n", start)
            return head[start : end if end >= 0 else None].strip()
    return None


class Session:
    """One SMTP session (RFC 5321 subset that every client of the benchmark uses)."""

    def __init__(self, state: SinkState, reader: Any, writer: Any) -> None:
        self.state = state
        self.reader = reader
        self.writer = writer
        self.tls = state.implicit_tls
        self.user: str | None = None
        self.over_limit = False

    async def reply(self, line: bytes) -> None:
        self.writer.write(line)
        await self.writer.drain()

    def _ehlo(self) -> bytes:
        # PIPELINING as Microsoft 365, Gmail and Postfix offer it (RFC 2920): commands are read
        # line by line and answered in order, so a client may send MAIL, RCPT and DATA at once.
        lines = [
            b"sink.bench.test",
            b"PIPELINING",
            b"8BITMIME",
            b"SIZE 52428800",
            b"ENHANCEDSTATUSCODES",
        ]
        lines.append(b"AUTH PLAIN LOGIN" if self.tls else b"STARTTLS")
        return b"".join(
            b"250" + (b" " if i == len(lines) - 1 else b"-") + text + b"\r\n"
            for i, text in enumerate(lines)
        )

    def _login(self, user: str, password: str) -> bool:
        state = self.state
        if password != state.password:
            state.auth_failures += 1
            return False
        state.auths += 1
        self.user = user.lower()
        state.authenticated[self.user] += 1
        count = state.authenticated[self.user]
        state.peak_per_user = max(state.peak_per_user, count)
        if state.sessions_per_user is not None and count > state.sessions_per_user:
            self.over_limit = True
        return True

    async def _auth(self, args: bytes) -> None:
        parts = args.split()
        mechanism = parts[0].upper() if parts else b""
        try:
            if mechanism == b"PLAIN":
                if len(parts) > 1:
                    blob = parts[1]
                else:
                    await self.reply(b"334 \r\n")
                    blob = (await self.reader.readline()).strip()
                _, user, password = base64.b64decode(blob).split(b"\0")
            elif mechanism == b"LOGIN":
                if len(parts) > 1:
                    user = base64.b64decode(parts[1])
                else:
                    await self.reply(b"334 VXNlcm5hbWU6\r\n")
                    user = base64.b64decode((await self.reader.readline()).strip())
                await self.reply(b"334 UGFzc3dvcmQ6\r\n")
                password = base64.b64decode((await self.reader.readline()).strip())
            else:
                await self.reply(b"504 5.5.4 Unrecognized authentication type\r\n")
                return
        except (ValueError, binascii.Error):
            await self.reply(b"501 5.5.2 Cannot decode the credentials\r\n")
            return
        if self._login(user.decode(errors="replace"), password.decode(errors="replace")):
            await self.reply(b"235 2.7.0 Authentication successful\r\n")
        else:
            await self.reply(b"535 5.7.8 Authentication credentials invalid\r\n")

    async def _data(self) -> None:
        await self.reply(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        data = await self.reader.readuntil(_END)
        state = self.state
        state.messages += 1
        state.received_bytes += len(data)
        state.stamps.append(time.monotonic())
        message_id = _message_id(b"\r\n" + data)
        if message_id is not None:
            if message_id in state.message_ids:
                state.duplicates += 1
            else:
                state.message_ids.add(message_id)
        await self.reply(b"250 2.0.0 OK queued\r\n")

    async def run(self) -> None:
        await self.reply(b"220 sink.bench.test ESMTP ready\r\n")
        while True:
            line = await self.reader.readline()
            if not line:
                return
            verb, _, args = line.rstrip(b"\r\n").partition(b" ")
            verb = verb.upper()
            if verb in (b"EHLO", b"HELO"):
                await self.reply(self._ehlo())
            elif verb == b"STARTTLS" and not self.tls:
                await self.reply(b"220 2.0.0 Ready to start TLS\r\n")
                await self.writer.start_tls(self.state.tls)
                self.tls = True
            elif verb == b"AUTH":
                if not self.tls:
                    await self.reply(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
                else:
                    await self._auth(args)
            elif verb == b"MAIL":
                if self.over_limit:
                    self.state.rejected_432 += 1
                    await self.reply(TOO_MANY)
                    return
                if self.user is None:
                    await self.reply(b"530 5.7.0 Authentication required\r\n")
                elif self.state.rate_exceeded(self.user):
                    self.state.rejected_432 += 1
                    self.state.rejected_432_rate += 1
                    await self.reply(TOO_FAST)
                else:
                    await self.reply(b"250 2.1.0 OK\r\n")
            elif verb == b"RCPT":
                await self.reply(b"250 2.1.5 OK\r\n")
            elif verb == b"DATA":
                await self._data()
            elif verb in (b"RSET", b"NOOP"):
                await self.reply(b"250 2.0.0 OK\r\n")
            elif verb == b"QUIT":
                await self.reply(b"221 2.0.0 Bye\r\n")
                return
            else:
                await self.reply(b"502 5.5.2 Command not implemented\r\n")


class _QuickAckProtocol(asyncio.StreamReaderProtocol):
    """A stream protocol that acknowledges every TCP segment at once (TCP_QUICKACK).

    Otherwise a message longer than one segment (86 KB on loopback) waits for Linux's 40 ms
    delayed ACK: the client's Nagle algorithm holds its last, short segment until the first
    is acknowledged, and smtplib does not set TCP_NODELAY. That would measure kernel timers,
    not the mailers. The option does not stick, so it is set again after every read.
    """

    _sock: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._sock is None:
            self._sock = transport.get_extra_info("socket")
        super().connection_made(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self._quickack()
        super().data_received(data)

    def _quickack(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


async def _start_server(
    handler: Any, host: str, port: int, tls: ssl.SSLContext | None = None
) -> asyncio.Server:
    loop = asyncio.get_running_loop()

    def factory() -> _QuickAckProtocol:
        reader = asyncio.StreamReader(limit=_READ_LIMIT, loop=loop)
        return _QuickAckProtocol(reader, handler, loop=loop)

    return await loop.create_server(factory, host, port, backlog=512, ssl=tls)


#: Seconds a listener's rate window is shortened by: a client's limiter counts a message when
#: it grants it, the sink when MAIL arrives, a connection and TLS handshake later at most.
RATE_LATENCY = 0.05


@dataclass
class Listeners:
    """The sink's own listeners (one shared state) and the servers added by `serve`."""

    main: SinkState
    servers: list[asyncio.Server] = field(default_factory=list)
    extra: dict[str, SinkState] = field(default_factory=dict)

    def pick(self, request: dict[str, Any]) -> SinkState:
        listener = request.get("listener")
        return self.main if listener is None else self.extra[listener]

    async def serve(self, request: dict[str, Any]) -> dict[str, Any]:
        name = f"{request['host']}:{request['port']}"
        rate = request.get("rate")
        if name not in self.extra:
            implicit = request.get("tls") == "ssl"
            state = SinkState(password=self.main.password, tls=self.main.tls, implicit_tls=implicit)
            self.extra[name] = state
            self.servers.append(
                await _start_server(
                    lambda r, w: _serve_client(state, r, w),
                    request["host"],
                    int(request["port"]),
                    self.main.tls if implicit else None,
                )
            )
        state = self.extra[name]
        state.sessions_per_user = request.get("sessions_per_user")
        state.rate = None if rate is None else (int(rate[0]), float(rate[1]) - RATE_LATENCY)
        state.reset()
        return {"ok": True, "listener": name}


async def _serve_client(state: SinkState, reader: Any, writer: Any) -> None:
    state.connections += 1
    state.active += 1
    state.peak_active = max(state.peak_active, state.active)
    session = Session(state, reader, writer)
    try:
        await session.run()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        state.active -= 1
        if session.user is not None:
            state.authenticated[session.user] -= 1
        with contextlib.suppress(Exception):
            writer.close()


async def _serve_control(
    listeners: Listeners, stop: asyncio.Event, reader: Any, writer: Any
) -> None:
    try:
        while line := await reader.readline():
            request = json.loads(line)
            command = request.get("cmd")
            answer: dict[str, Any] = {"ok": True}
            if command == "serve":
                answer = await listeners.serve(request)
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
                continue
            state = listeners.pick(request)
            if command == "stats":
                answer = state.stats()
            elif command == "reset":
                state.reset()
            elif command == "limit":
                state.sessions_per_user = request.get("sessions_per_user")
            elif command == "stop":
                stop.set()
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()


async def serve(
    *, listen: list[tuple[str, int]], control: int, cert: str, key: str, password: str
) -> None:
    """Serve SMTP on every listen address and the control port until told to stop."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    state = SinkState(password=password, tls=context)
    listeners = Listeners(state)
    stop = asyncio.Event()
    listeners.servers += [
        await _start_server(lambda r, w: _serve_client(state, r, w), host, port)
        for host, port in listen
    ]
    listeners.servers.append(
        await asyncio.start_server(
            lambda r, w: _serve_control(listeners, stop, r, w), "127.0.0.1", control
        )
    )
    print("sink ready", flush=True)
    await stop.wait()
    for server in listeners.servers:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True, help="host:port, repeatable")
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    listen = [(item.rpartition(":")[0], int(item.rpartition(":")[2])) for item in args.listen]
    asyncio.run(
        serve(
            listen=listen,
            control=args.control,
            cert=args.cert,
            key=args.key,
            password=args.password,
        )
    )


if __name__ == "__main__":
    main()
