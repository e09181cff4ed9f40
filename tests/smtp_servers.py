"""Real local SMTP servers for tests: aiosmtpd on 127.x.y.z with trustme certificates."""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import os
import random
import socket
import ssl
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

SERVER_NAME = "smtp.directo.test"
DEFAULT_PORTS = {"no": 25, "starttls": 587, "ssl": 465}
DROP = "DROP"  # a scripted action: close the connection instead of answering
VALID_TOKEN = "valid-token-Zq8"
XOAUTH2_SCOPE = "https://outlook.office.com/SMTP.Send"
_random = random.Random(os.urandom(16))


def loopback_address() -> str:
    """Return a random 127.x.y.z address (not 127.0.0.1), unlikely to collide with others."""
    while True:
        address = (
            f"127.{_random.randint(0, 255)}.{_random.randint(0, 255)}.{_random.randint(2, 254)}"
        )
        if address != "127.0.0.1":
            return address


@dataclass(frozen=True)
class Command:
    """One command a server received: connection number, verb, and whether TLS was on."""

    connection: int
    verb: str
    tls: bool


@dataclass(frozen=True)
class Delivery:
    """One message a server accepted (or received before dropping the connection)."""

    connection: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    login: str | None
    tls: bool


@dataclass
class Sink:
    """Handler that records everything and follows a script of replies, per command verb."""

    users: dict[str, str] = field(default_factory=dict)
    auth_reply: str | None = None  # a fixed reply to every PLAIN/LOGIN attempt
    deliveries: list[Delivery] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    auth_attempts: list[tuple[str, str]] = field(default_factory=list)
    connections: int = 0
    plan: dict[str, list[str | None]] = field(default_factory=lambda: defaultdict(list))
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    token_check: Callable[[str], str | None] | None = None
    pipelining: bool = False  # offer PIPELINING (RFC 2920) in the EHLO answer

    def reset(self) -> None:
        self.deliveries.clear()
        self.commands.clear()
        self.auth_attempts.clear()
        self.connections = 0

    def verbs(self) -> list[str]:
        return [command.verb for command in self.commands]

    def _next(self, verb: str) -> str | None:
        return self.plan[verb].pop(0) if self.plan[verb] else None

    @staticmethod
    async def _drop(server: SMTP) -> None:
        assert server.transport is not None
        server.transport.close()
        # connection_lost() cancels this coroutine; the client sees the connection close.
        await asyncio.sleep(3600)

    def authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        login, password = data.login.decode(), data.password.decode()
        self.auth_attempts.append((mechanism, login))
        if self.auth_reply is not None:
            return AuthResult(success=False, handled=False, message=self.auth_reply)
        if self.users.get(login) == password:
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """Accept VALID_TOKEN; otherwise answer like Microsoft 365 (334 JSON, then 535)."""
        fields = base64.b64decode(args[1]).decode().split("\x01")
        user = fields[0].removeprefix("user=")
        token = fields[1].removeprefix("auth=Bearer ")
        self.auth_attempts.append(("XOAUTH2", user))
        # token_check: a real identity provider's answer (the account the token belongs to).
        valid = self.token_check(token) == user if self.token_check else token == VALID_TOKEN
        if valid:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        challenge = {"status": "401", "schemes": "bearer", "scope": XOAUTH2_SCOPE}
        empty = await server.challenge_auth(json.dumps(challenge))
        assert empty == b"", "the client must answer the 334 challenge with an empty line"
        return AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )

    async def handle_EHLO(
        self, server: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself without this hook
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: Any
    ) -> Any:
        action = self._next("MAIL")
        if action == DROP:
            await self._drop(server)
        return MISSING if action is None else action

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: Any
    ) -> Any:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        action = self._next("RCPT")
        if action == DROP:
            await self._drop(server)
        return MISSING if action is None else action

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        action = self._next("DATA")
        if action is None or action == DROP:
            login = session.login_data.decode() if session.login_data else None
            self.deliveries.append(
                Delivery(
                    connection=server.connection_no,
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    content=envelope.original_content,
                    login=login,
                    tls=server.transport.get_extra_info("ssl_object") is not None,
                )
            )
        if action == DROP:
            await self._drop(server)
        return action or "250 2.0.0 OK queued"


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP that numbers its connection and records every command it receives."""

    def __init__(self, handler: Sink, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        handler.connections += 1
        self.connection_no = handler.connections
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._recorded(verb, method)

    def _recorded(self, verb: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def recorded(arg: str | None) -> None:
            tls = (
                self.transport is not None
                and self.transport.get_extra_info("ssl_object") is not None
            )
            self.event_handler.commands.append(Command(self.connection_no, verb, tls))
            await method(arg)

        return recorded


class RecordingController(Controller):
    def factory(self) -> SMTP:
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class Server:
    """A running local server: where to connect, which name its certificate carries."""

    address: str
    port: int
    sink: Sink
    name: str = SERVER_NAME


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("mailer-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def smtp_settings(settings: Any, ca_bundle: str) -> Any:
    """Trust the test CA (system trust stays on) and keep network timeouts short."""
    settings.MAILER_CA_BUNDLE = ca_bundle
    settings.MAILER_TIMEOUT = 3.0
    return settings


@pytest.fixture
def smtp_server(ca: trustme.CA, smtp_settings: Any) -> Iterator[Callable[..., Server]]:
    """Start aiosmtpd servers on random loopback addresses; stop them all afterwards.

    tls: "no" (plain), "starttls" (STARTTLS offered) or "ssl" (implicit TLS).
    cert_ca: the CA that issues the server certificate (another CA means "untrusted").
    """
    controllers: list[Controller] = []

    def start(
        *,
        tls: str = "no",
        port: int | None = None,
        name: str = SERVER_NAME,
        cert_names: tuple[str, ...] | None = None,
        cert_ca: trustme.CA | None = None,
        users: dict[str, str] | None = None,
        xoauth2: bool = False,
        exclude_mechanisms: tuple[str, ...] = (),
        auth_require_tls: bool | None = None,
        by_address: bool = False,
    ) -> Server:
        sink = Sink(users=dict(users or {}))

        def contexts(address: str) -> dict[str, Any]:
            # by_address: the certificate names the IP itself, as when a card names the server
            # by its address ("127.1.2.3:587").
            names = (address,) if by_address else (cert_names or (name,))
            cert = (cert_ca or ca).issue_cert(*names)
            if tls == "no":
                return {}
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(server_context)
            return {"tls_context" if tls == "starttls" else "ssl_context": server_context}

        kwargs: dict[str, Any] = {
            "authenticator": sink.authenticate,
            "auth_exclude_mechanism": [*exclude_mechanisms, *([] if xoauth2 else ["XOAUTH2"])],
            # Plain servers must offer AUTH without TLS; implicit TLS is invisible to aiosmtpd.
            "auth_require_tls": (tls == "starttls")
            if auth_require_tls is None
            else auth_require_tls,
            "server_hostname": name,
        }
        for _ in range(20):
            address = loopback_address()
            controller = RecordingController(
                sink,
                hostname=address,
                port=port or DEFAULT_PORTS[tls],
                ready_timeout=5,
                **kwargs,
                **contexts(address),
            )
            try:
                controller.start()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                controller.stop(no_assert=True)
                continue
            controllers.append(controller)
            sink.reset()  # forget the controller's own start-up probe connection
            return Server(
                address=address,
                port=controller.port,
                sink=sink,
                name=address if by_address else name,
            )
        raise RuntimeError("no free loopback address found")

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def silent_server() -> Iterator[Server]:
    """A server that accepts TCP connections (kernel backlog) and never says a word."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    for _ in range(20):
        address = loopback_address()
        try:
            sock.bind((address, 25))
            break
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    sock.listen(8)
    try:
        yield Server(address=address, port=25, sink=Sink())
    finally:
        sock.close()


@pytest.fixture
def closed_port() -> Server:
    """A loopback address where nothing listens: connecting is refused."""
    return Server(address=loopback_address(), port=25, sink=Sink())
