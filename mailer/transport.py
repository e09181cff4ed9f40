"""SMTP sessions through smtplib: TLS as configured, authentication, and named errors."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Self

from django.conf import settings
from django.core.mail.utils import DNS_NAME
from django.views.decorators.debug import sensitive_variables

from mailer.exceptions import (
    InvalidAddressError,
    MailDeliveryError,
    MailSettingsError,
    OutcomeUnknownError,
    Step,
    XOAuth2Error,
    delivery_error,
)
from mailer.smtp_errors import network_error, smtp_reply_error, tls_error
from users.models import MailSender
from users.secrets import Secret

if TYPE_CHECKING:
    from types import TracebackType

    from mailer.config import SenderConfig

SSL_TLS_MODES = ("no", "ssl", "starttls")
REDACTED = "[redacted]"
TokenProvider = Callable[[], str]

_CRLF = b"\r\n"
_EOLS = re.compile(rb"\r\n|\n|\r")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
_UNSAFE_ADDRESS = re.compile(r"[\r\n\x00<>\s]")
_MAX_AUTH_ROUNDS = 4
# What a 334 challenge status means (RFC 7628 errors as Microsoft and Google use them).
_XOAUTH2_STATUS = {
    "400": "the token request was malformed",
    "401": "the token is invalid, expired or revoked",
    "403": "the token lacks the permission to send mail",
}


_contexts: dict[tuple[str, int], ssl.SSLContext] = {}


def ssl_context_create() -> ssl.SSLContext:
    """Return a verifying client context: system trust plus settings.MAILER_CA_BUNDLE.

    Loading the system trust store costs tens of milliseconds, so a context is kept per
    process for each CA bundle (and its modification time); contexts are safe to share.
    """
    cafile = getattr(settings, "MAILER_CA_BUNDLE", "") or ""
    try:
        key = (cafile, os.stat(cafile).st_mtime_ns if cafile else 0)
    except OSError:
        key = (cafile, -1)  # let load_verify_locations() raise its own clear error
    context = _contexts.get(key)
    if context is None:
        context = ssl.create_default_context()
        if cafile:
            context.load_verify_locations(cafile=cafile)
        _contexts[key] = context
    return context


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _os_error(exc: smtplib.SMTPServerDisconnected) -> OSError:
    """Return the socket error behind smtplib's "disconnected" (it hides timeouts in there)."""
    for cause in (exc.__cause__, exc.__context__):
        if isinstance(cause, OSError):
            return cause
    return ConnectionAbortedError("the server closed the connection")


def data_payload(message: bytes) -> bytes:
    """Return the DATA payload: CRLF line ends, leading dots doubled, the final "." line."""
    payload = _LEADING_DOT.sub(b"..", _EOLS.sub(_CRLF, message))
    if not payload.endswith(_CRLF):
        payload += _CRLF
    return payload + b"." + _CRLF


@dataclass(frozen=True)
class TranscriptStep:
    """One step of a session as a user may see it: never a password, token or AUTH payload."""

    step: str
    ok: bool
    code: int | None = None
    reply: str = ""
    detail: str = ""


@dataclass(frozen=True)
class RecipientResult:
    """The server's answer to one RCPT TO."""

    recipient: str
    accepted: bool
    code: int
    reply: str
    error: MailDeliveryError | None = None


@dataclass(frozen=True)
class SendResult:
    """The outcome of one message: per recipient, the final DATA answer, and a reconnect."""

    recipients: tuple[RecipientResult, ...]
    code: int
    reply: str
    reconnected: bool = False

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(r.recipient for r in self.recipients if r.accepted)

    @property
    def refused(self) -> dict[str, MailDeliveryError]:
        return {r.recipient: r.error for r in self.recipients if r.error is not None}


@dataclass(frozen=True)
class ProbeResult:
    """A dry run's outcome: the transcript and the explained error, if any."""

    ok: bool
    transcript: tuple[TranscriptStep, ...]
    error: MailDeliveryError | None = None


class _Lost(Exception):
    """The connection broke at a step (internal: mapped by whoever knows the phase)."""

    def __init__(self, step: str, error: OSError) -> None:
        super().__init__(step)
        self.step = step
        self.error = error


class _Retry(Exception):
    """The message was certainly not accepted and may go again on a new connection."""

    def __init__(self, error: MailDeliveryError) -> None:
        super().__init__(error.cause)
        self.error = error


class _Connection(smtplib.SMTP):
    """smtplib.SMTP that dials a fixed address but verifies TLS against the host name."""

    def __init__(
        self,
        *,
        server_name: str,
        address: str,
        context: ssl.SSLContext,
        timeout: float,
        local_hostname: str,
    ) -> None:
        super().__init__(local_hostname=local_hostname, timeout=timeout)
        # smtplib's starttls() checks the certificate against `_host`: the name, not the address.
        self._host = server_name
        self.address = address
        self.context = context
        self.phase = "tcp"

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self.phase = "tcp"
        sock = socket.create_connection((self.address, port), timeout, self.source_address)
        # SMTP pipelines little writes (commands, then the message): without TCP_NODELAY a
        # message larger than one segment can wait for the server's delayed ACK (40 ms on Linux).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.phase = "banner"
        return sock


class _SslConnection(_Connection):
    """Implicit TLS (port 465): the handshake comes before the greeting."""

    default_port = smtplib.SMTP_SSL_PORT

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)
        self.phase = "tls"
        try:
            wrapped = self.context.wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            sock.close()
            raise
        self.phase = "banner"
        return wrapped


class SmtpTransport:
    """One SMTP session for one resolved configuration; many messages over one connection.

    Not thread-safe: use one transport per thread or job.
    """

    @sensitive_variables("password")
    def __init__(
        self,
        *,
        host: str,
        port: int,
        ssl_tls: str,
        username: str = "",
        password: Secret | str = "",
        xoauth2_token: TokenProvider | None = None,
        connect_address: str | None = None,
        timeout: float | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if ssl_tls not in SSL_TLS_MODES:
            raise ValueError(f"ssl_tls must be one of {SSL_TLS_MODES}, not {ssl_tls!r}")
        if xoauth2_token is not None and not username:
            raise ValueError("XOAUTH2 needs the mailbox's username")
        self.host = host
        self.port = port
        self.ssl_tls = ssl_tls
        self.username = username
        self._password = Secret(password)
        self._xoauth2_token = xoauth2_token
        self.connect_address = connect_address or host
        self.timeout = float(settings.MAILER_TIMEOUT if timeout is None else timeout)
        self.local_hostname = local_hostname
        self._context: ssl.SSLContext | None = None
        self._conn: _Connection | None = None
        self._secrets: set[str] = set()
        self._transcript: list[TranscriptStep] = []
        self._remember_secret(self._password.reveal())

    @classmethod
    def from_config(
        cls,
        config: SenderConfig,
        *,
        xoauth2_token: TokenProvider | None = None,
        connect_address: str | None = None,
        timeout: float | None = None,
    ) -> Self:
        """Return a transport for resolved settings; refuse settings that are not ready."""
        if not config.ready or config.port is None:
            raise MailSettingsError(
                "settings_incomplete",
                host=config.host,
                port=config.port,
                detail="; ".join(config.missing) or "no mail server",
            )
        oauth = config.mode == MailSender.M365_OAUTH
        if oauth and xoauth2_token is None:
            raise ValueError("Microsoft 365 OAUTH settings need an xoauth2_token provider")
        return cls(
            host=config.host,
            port=config.port,
            ssl_tls=config.ssl_tls,
            username=config.username,
            password="" if oauth else config.password,
            xoauth2_token=xoauth2_token if oauth else None,
            connect_address=connect_address,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return (
            f"<SmtpTransport {self.host}:{self.port} ssl_tls={self.ssl_tls} "
            f"username={self.username!r} connected={self._conn is not None}>"
        )

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def transcript(self) -> tuple[TranscriptStep, ...]:
        """Return the steps of the current connection's setup (and of a probe)."""
        return tuple(self._transcript)

    # -- connection -------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, set up TLS and authenticate, unless already connected."""
        if self._conn is not None:
            return
        self._transcript = []
        if self._context is None:
            self._context = ssl_context_create()
        conn_class = _SslConnection if self.ssl_tls == "ssl" else _Connection
        conn = conn_class(
            server_name=self.host,
            address=self.connect_address,
            context=self._context,
            timeout=self.timeout,
            local_hostname=self.local_hostname or DNS_NAME.get_fqdn(),
        )
        try:
            self._connect(conn)
            self._starttls(conn)
            self._authenticate(conn)
        except _Lost as lost:
            conn.close()
            raise self._fail(lost.step, self._network_error(lost.error, lost.step)) from None
        except BaseException:
            # Never QUIT here: after a failed handshake the stream is not safe to write to.
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        """Say QUIT and close the connection; errors while closing do not matter."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            conn.close()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connect(self, conn: _Connection) -> None:
        try:
            code, reply = conn.connect(self.host, self.port)
        except ssl.SSLError as exc:
            raise self._fail(Step.TLS, self._tls_error(exc)) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise self._fail(
                Step.CONNECT, self._network_error(_os_error(exc), Step.CONNECT, conn.phase)
            ) from None
        except OSError as exc:
            step = Step.TLS if conn.phase == "tls" else Step.CONNECT
            raise self._fail(step, self._network_error(exc, step, conn.phase)) from None
        text = self._redact(_text(reply))
        if code != 220:
            raise self._fail(Step.CONNECT, self._reply_error(Step.CONNECT, code, text))
        self._record(Step.CONNECT, True, code, text, detail=f"{self.host}:{self.port}")
        if isinstance(conn.sock, ssl.SSLSocket):
            self._record(Step.TLS, True, detail=f"implicit TLS, {conn.sock.version()}")
        self._ehlo(conn)

    def _ehlo(self, conn: _Connection) -> None:
        code, text = self._call(Step.EHLO, conn.ehlo)
        if not 200 <= code < 300:
            code, text = self._call(Step.EHLO, conn.helo)
        if not 200 <= code < 300:
            raise self._fail(Step.EHLO, self._reply_error(Step.EHLO, code, text))
        self._record(Step.EHLO, True, code, text.splitlines()[0] if text else "")

    def _starttls(self, conn: _Connection) -> None:
        if self.ssl_tls != "starttls":
            return
        if not conn.has_extn("starttls"):
            # Never fall back to plaintext: the password and the message would travel in clear.
            raise self._fail(
                Step.TLS,
                delivery_error(
                    "starttls_not_offered", step=Step.TLS, host=self.host, port=self.port
                ),
            )
        try:
            code, reply = conn.starttls(context=self._context)
        except smtplib.SMTPResponseException as exc:
            text = self._redact(_text(exc.smtp_error))
            raise self._fail(Step.TLS, self._reply_error(Step.TLS, exc.smtp_code, text)) from None
        except ssl.SSLError as exc:
            raise self._fail(Step.TLS, self._tls_error(exc)) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise _Lost(Step.TLS, _os_error(exc)) from None
        except OSError as exc:
            raise _Lost(Step.TLS, exc) from None
        version = conn.sock.version() if isinstance(conn.sock, ssl.SSLSocket) else ""
        self._record(
            Step.TLS, True, code, self._redact(_text(reply)), detail=f"STARTTLS, {version}"
        )
        self._ehlo(conn)

    # -- authentication ---------------------------------------------------------------------

    def _authenticate(self, conn: _Connection) -> None:
        if self._xoauth2_token is not None:
            self._auth_xoauth2(conn)
        elif self.username:
            self._auth_password(conn)

    def _mechanisms(self, conn: _Connection) -> list[str]:
        if not conn.has_extn("auth"):
            raise self._fail(
                Step.AUTH,
                delivery_error(
                    "auth_not_offered",
                    step=Step.AUTH,
                    host=self.host,
                    port=self.port,
                    detail="the server does not advertise AUTH",
                ),
            )
        return conn.esmtp_features["auth"].upper().split()

    @sensitive_variables()
    def _auth_password(self, conn: _Connection) -> None:
        mechanisms = self._mechanisms(conn)
        user, password = self.username.encode(), self._password.reveal().encode()
        # PLAIN and LOGIN in UTF-8 (RFC 4616); smtplib.login() would refuse non-ASCII passwords.
        if "PLAIN" in mechanisms:
            mechanism, initial, answers = "PLAIN", b"\0" + user + b"\0" + password, []
        elif "LOGIN" in mechanisms:
            mechanism, initial, answers = "LOGIN", None, [user, password]
        else:
            raise self._auth_not_offered(f"it offers only {', '.join(mechanisms) or 'nothing'}")
        code, text = self._sasl(conn, mechanism, initial, answers)
        if code not in (235, 503):  # 503: already authenticated
            raise self._fail(Step.AUTH, self._reply_error(Step.AUTH, code, text, mechanism))
        self._record(Step.AUTH, True, code, text, detail=f"{mechanism} as {self.username}")

    def _auth_not_offered(self, detail: str) -> MailDeliveryError:
        return self._fail(
            Step.AUTH,
            delivery_error(
                "auth_not_offered", step=Step.AUTH, host=self.host, port=self.port, detail=detail
            ),
        )

    @sensitive_variables()
    def _auth_xoauth2(self, conn: _Connection) -> None:
        assert self._xoauth2_token is not None
        mechanisms = self._mechanisms(conn)
        if "XOAUTH2" not in mechanisms:
            raise self._auth_not_offered(
                f"no XOAUTH2; it offers {', '.join(mechanisms) or 'nothing'}"
            )
        token = self._xoauth2_token()
        self._remember_secret(token)
        initial = f"user={self.username}\x01auth=Bearer {token}\x01\x01".encode()
        code, reply = self._command(conn, Step.AUTH, "AUTH", f"XOAUTH2 {self._secret_b64(initial)}")
        if code == 334:
            # A failed XOAUTH2 answers 334 <base64 JSON>; the client must send an empty line
            # and then gets the final 5xx (RFC 7628 section 3.2.3).
            challenge = self._xoauth2_challenge(reply)
            try:
                code, text = self._command(conn, Step.AUTH, "")
            except _Lost:
                # The decoded challenge is the explanation, even if the server hangs up now.
                code, text = 0, ""
            raise self._fail(
                Step.AUTH,
                XOAuth2Error(
                    status=challenge.get("status", ""),
                    schemes=challenge.get("schemes", ""),
                    scope=challenge.get("scope", ""),
                    step=Step.AUTH,
                    smtp_code=code or None,
                    smtp_reply=text,
                    host=self.host,
                    port=self.port,
                    detail=self._xoauth2_meaning(challenge),
                ),
            )
        if code != 235:
            raise self._fail(Step.AUTH, self._reply_error(Step.AUTH, code, reply, "XOAUTH2"))
        self._record(Step.AUTH, True, code, reply, detail=f"XOAUTH2 as {self.username}")

    @sensitive_variables()
    def _sasl(
        self, conn: _Connection, mechanism: str, initial: bytes | None, answers: list[bytes]
    ) -> tuple[int, str]:
        args = mechanism if initial is None else f"{mechanism} {self._secret_b64(initial)}"
        code, text = self._command(conn, Step.AUTH, "AUTH", args)
        pending = list(answers) or ([initial] if initial is not None else [])
        rounds = 0
        while code == 334 and pending and rounds < _MAX_AUTH_ROUNDS:
            rounds += 1
            code, text = self._command(conn, Step.AUTH, self._secret_b64(pending.pop(0)))
        return code, text

    def _xoauth2_challenge(self, reply: str) -> dict[str, str]:
        try:
            decoded = json.loads(base64.b64decode(reply.strip(), validate=True))
        except (binascii.Error, ValueError):
            return {}
        if not isinstance(decoded, dict):
            return {}
        return {key: self._redact(str(value)) for key, value in decoded.items()}

    @staticmethod
    def _xoauth2_meaning(challenge: dict[str, str]) -> str:
        status = challenge.get("status", "")
        if not status:
            return "the server gave no reason"
        meaning = _XOAUTH2_STATUS.get(status, "the token was refused")
        parts = [f"status {status}: {meaning}"]
        if challenge.get("scope"):
            parts.append(f"required scope {challenge['scope']}")
        return "; ".join(parts)

    # -- sending ----------------------------------------------------------------------------

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message: bytes,
        *,
        before_data: Callable[[], None] | None = None,
    ) -> SendResult:
        """Send one message; reconnect once after a 421 or a connection lost before DATA.

        `before_data` is called after the server's 354 and right before the message data is
        written (a mass-mail job marks the row as transmitting there); if it raises, the
        connection is dropped, nothing is transmitted and the exception propagates.
        """
        recipients = tuple(recipients)
        if not recipients:
            raise ValueError("send() needs at least one recipient")
        self._address_check(envelope_from, Step.MAIL, allow_empty=True)
        for recipient in recipients:
            self._address_check(recipient, Step.RCPT)
        payload = data_payload(message)
        for attempt in (0, 1):
            self.open()
            try:
                result = self._transaction(envelope_from, recipients, payload, before_data)
            except _Retry as retry:
                self._drop()
                if attempt:
                    raise retry.error from None
                continue
            return replace(result, reconnected=bool(attempt))
        raise AssertionError("unreachable")

    def _transaction(
        self,
        envelope_from: str,
        recipients: tuple[str, ...],
        payload: bytes,
        before_data: Callable[[], None] | None = None,
    ) -> SendResult:
        conn = self._conn
        assert conn is not None
        options = self._mail_options(conn, envelope_from, recipients, payload)
        code, text = self._txn_command(conn, Step.MAIL, "MAIL", f"FROM:<{envelope_from}>{options}")
        if code != 250:
            self._reset(conn)
            raise self._reply_error(Step.MAIL, code, text, sender=envelope_from)
        results = []
        for recipient in recipients:
            code, text = self._txn_command(conn, Step.RCPT, "RCPT", f"TO:<{recipient}>")
            accepted = code in (250, 251)
            error = (
                None if accepted else self._reply_error(Step.RCPT, code, text, recipient=recipient)
            )
            results.append(RecipientResult(recipient, accepted, code, text, error))
        if not any(r.accepted for r in results):
            self._reset(conn)
            first = results[0].error
            assert first is not None
            raise first
        code, text = self._txn_command(conn, Step.DATA, "DATA")
        if code != 354:
            self._reset(conn)
            raise self._reply_error(Step.DATA, code, text)
        if before_data is not None:
            try:
                before_data()
            except BaseException:
                # After 354 only the data may follow: the session cannot be reset, only dropped.
                self._drop()
                raise
        try:
            conn.send(payload)
        except smtplib.SMTPServerDisconnected as exc:
            # sendall() failed, so the final "." line never left: the server cannot have
            # accepted the message, and sending it again is safe.
            raise _Retry(self._network_error(_os_error(exc), Step.DATA)) from None
        try:
            code, reply = conn.getreply()
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            reason = _os_error(exc)
            raise OutcomeUnknownError(
                "outcome_unknown",
                step=Step.DATA,
                host=self.host,
                port=self.port,
                recipient=recipients[0] if len(recipients) == 1 else None,
                detail=reason.strerror or str(reason) or type(reason).__name__,
            ) from None
        text = self._redact(_text(reply))
        if code == 421:
            raise _Retry(self._reply_error(Step.DATA, code, text))
        if code != 250:
            raise self._reply_error(Step.DATA, code, text)
        return SendResult(tuple(results), code, text)

    def _txn_command(
        self, conn: _Connection, step: str, cmd: str, args: str = ""
    ) -> tuple[int, str]:
        """Run a command before the message data; a 421 or a lost connection may be retried."""
        try:
            code, text = self._command(conn, step, cmd, args)
        except _Lost as lost:
            raise _Retry(self._network_error(lost.error, step)) from None
        if code == 421:
            raise _Retry(self._reply_error(step, code, text))
        return code, text

    def _reset(self, conn: _Connection) -> None:
        """Abort the transaction so the connection serves the next message, or drop it."""
        try:
            code, _ = self._command(conn, Step.RSET, "RSET")
        except _Lost:
            code = 0
        if code != 250:
            self._drop()

    def _mail_options(
        self, conn: _Connection, envelope_from: str, recipients: tuple[str, ...], payload: bytes
    ) -> str:
        options = ""
        if not payload.isascii() and conn.has_extn("8bitmime"):
            options += " BODY=8BITMIME"
        conn.command_encoding = "ascii"
        for address in (envelope_from, *recipients):
            if address.isascii():
                continue
            if not conn.has_extn("smtputf8"):
                raise InvalidAddressError(
                    "smtputf8_not_supported",
                    step=Step.RCPT if address in recipients else Step.MAIL,
                    host=self.host,
                    port=self.port,
                    recipient=address if address in recipients else None,
                    detail=address,
                )
            conn.command_encoding = "utf-8"
            return options + " SMTPUTF8"
        return options

    def _address_check(self, address: str, step: str, *, allow_empty: bool = False) -> None:
        if (not address and not allow_empty) or _UNSAFE_ADDRESS.search(address):
            raise InvalidAddressError(
                "address_invalid",
                step=step,
                host=self.host,
                port=self.port,
                recipient=address if step == Step.RCPT else None,
                detail=_UNSAFE_ADDRESS.sub("?", address),
            )

    # -- the dry run ------------------------------------------------------------------------

    def probe(self, envelope_from: str, recipient: str) -> ProbeResult:
        """Connect, TLS, AUTH, MAIL FROM, RCPT TO and RSET on a fresh connection; send nothing."""
        self.close()
        error: MailDeliveryError | None = None
        try:
            self._address_check(envelope_from, Step.MAIL, allow_empty=True)
            self._address_check(recipient, Step.RCPT)
            self.open()
            conn = self._conn
            assert conn is not None
            options = self._mail_options(conn, envelope_from, (recipient,), b"")
            self._probe_step(
                conn, Step.MAIL, f"FROM:<{envelope_from}>{options}", sender=envelope_from
            )
            self._probe_step(conn, Step.RCPT, f"TO:<{recipient}>", recipient=recipient)
            self._probe_step(conn, Step.RSET, "")
        except MailDeliveryError as exc:
            error = exc
        finally:
            self.close()
        return ProbeResult(ok=error is None, transcript=self.transcript, error=error)

    def _probe_step(self, conn: _Connection, step: str, args: str, **context: Any) -> None:
        try:
            code, text = self._command(conn, step, step, args)
        except _Lost as lost:
            self._drop()
            raise self._fail(step, self._network_error(lost.error, step)) from None
        if code not in (250, 251):
            raise self._fail(step, self._reply_error(step, code, text, **context))
        self._record(step, True, code, text)

    # -- helpers ----------------------------------------------------------------------------

    def _command(self, conn: _Connection, step: str, cmd: str, args: str = "") -> tuple[int, str]:
        try:
            code, reply = conn.docmd(cmd, args)
        except smtplib.SMTPServerDisconnected as exc:
            raise _Lost(step, _os_error(exc)) from None
        return code, self._redact(_text(reply))

    def _call(self, step: str, method: Callable[[], tuple[int, bytes]]) -> tuple[int, str]:
        try:
            code, reply = method()
        except smtplib.SMTPServerDisconnected as exc:
            raise _Lost(step, _os_error(exc)) from None
        return code, self._redact(_text(reply))

    def _reply_error(
        self, step: str, code: int, text: str, mechanism: str = "", **context: Any
    ) -> MailDeliveryError:
        return smtp_reply_error(
            step=step,
            code=code,
            reply=text,
            host=self.host,
            port=self.port,
            mechanism=mechanism,
            **context,
        )

    def _network_error(self, exc: OSError, step: str, phase: str = "session") -> MailDeliveryError:
        return network_error(
            exc, step=step, host=self.host, port=self.port, ssl_tls=self.ssl_tls, phase=phase
        )

    def _tls_error(self, exc: ssl.SSLError) -> MailDeliveryError:
        return tls_error(exc, step=Step.TLS, host=self.host, port=self.port, ssl_tls=self.ssl_tls)

    def _record(
        self, step: str, ok: bool, code: int | None = None, reply: str = "", detail: str = ""
    ) -> None:
        self._transcript.append(TranscriptStep(str(step), ok, code, reply, detail))

    def _fail(self, step: str, error: MailDeliveryError) -> MailDeliveryError:
        self._record(step, False, error.smtp_code, error.smtp_reply, detail=error.cause)
        return error

    def _remember_secret(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def _secret_b64(self, data: bytes) -> str:
        encoded = _b64(data)
        self._secrets.add(encoded)
        return encoded

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text
