"""Connecting to an SMTP server: the TLS context, the socket, the greeting, EHLO and STARTTLS."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail.utils import DNS_NAME
from django.utils.translation import gettext

from mailer.causes import MailCause
from mailer.exceptions import MailDeliveryError, Step, delivery_error
from mailer.smtp_errors import network_error, smtp_reply_error, tls_error
from mailer.transport.transcript import Transcript

SSL_TLS_MODES = ("no", "ssl", "starttls")

_contexts: dict[tuple[str, int], ssl.SSLContext] = {}


def _implicit_tls(version: str | None) -> str:
    """Return the transcript's detail of an implicit-TLS handshake (shown on the test panel)."""
    return gettext("implicit TLS, {version}").format(version=version or "?")


def _starttls(version: str | None) -> str:
    """Return the transcript's detail of a STARTTLS handshake (shown on the test panel)."""
    return gettext("STARTTLS, {version}").format(version=version or "?")


def ssl_context_create() -> ssl.SSLContext:
    """Return a verifying client context: system trust plus settings.MAILER_CA_BUNDLE.

    Loading the system trust store costs tens of milliseconds, so a context is kept per
    process for each CA bundle (and its modification time); contexts are safe to share.
    """
    cafile = settings.MAILER_CA_BUNDLE
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


def reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def os_error(exc: smtplib.SMTPServerDisconnected) -> OSError:
    """Return the socket error behind smtplib's "disconnected" (it hides timeouts in there)."""
    for cause in (exc.__cause__, exc.__context__):
        if isinstance(cause, OSError):
            return cause
    return ConnectionAbortedError("the server closed the connection")


class ConnectionLostError(Exception):
    """The connection broke at a step (internal: mapped by whoever knows the phase)."""

    def __init__(self, step: str, error: OSError) -> None:
        super().__init__(step)
        self.step = step
        self.error = error


@dataclass(frozen=True)
class Endpoint:
    """The server as the named errors describe it: host, port and TLS mode."""

    host: str
    port: int
    ssl_tls: str

    def error(self, cause: MailCause, *, step: str, **context: Any) -> MailDeliveryError:
        return delivery_error(cause, step=step, host=self.host, port=self.port, **context)

    def reply_error(
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

    def network_error(self, exc: OSError, step: str, phase: str = "session") -> MailDeliveryError:
        return network_error(
            exc, step=step, host=self.host, port=self.port, ssl_tls=self.ssl_tls, phase=phase
        )

    def tls_error(self, exc: ssl.SSLError) -> MailDeliveryError:
        return tls_error(exc, step=Step.TLS, host=self.host, port=self.port, ssl_tls=self.ssl_tls)


class _Smtp(smtplib.SMTP):
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


class _SmtpSsl(_Smtp):
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


class Connection:
    """One SMTP connection: redacted replies, named errors and the transcript of its setup."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        address: str,
        context: ssl.SSLContext,
        timeout: float,
        local_hostname: str | None,
        transcript: Transcript,
    ) -> None:
        smtp_class = _SmtpSsl if endpoint.ssl_tls == "ssl" else _Smtp
        self.smtp = smtp_class(
            server_name=endpoint.host,
            address=address,
            context=context,
            timeout=timeout,
            local_hostname=local_hostname or DNS_NAME.get_fqdn(),
        )
        self.endpoint = endpoint
        self.transcript = transcript
        self.closed = False

    def setup(self) -> None:
        """Connect, read the greeting, say EHLO and switch to TLS as the endpoint says."""
        self._connect()
        if self.endpoint.ssl_tls == "starttls":
            self._starttls()

    def drop(self) -> None:
        """Close the socket without a word: after a failure the stream may be unsafe to write."""
        if not self.closed:
            self.closed = True
            self.smtp.close()

    def quit(self) -> None:
        """Say QUIT and close the connection; errors while closing do not matter."""
        self.closed = True
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            self.smtp.close()

    def command(self, step: str, cmd: str, args: str = "") -> tuple[int, str]:
        """Send one command; return the reply code and its redacted text."""
        try:
            code, reply = self.smtp.docmd(cmd, args)
        except smtplib.SMTPServerDisconnected as exc:
            raise ConnectionLostError(step, os_error(exc)) from None
        return code, self.transcript.redact(reply_text(reply))

    def call(self, step: str, method: Callable[[], tuple[int, bytes]]) -> tuple[int, str]:
        """Run one smtplib exchange (EHLO, HELO); return the code and the redacted text."""
        try:
            code, reply = method()
        except smtplib.SMTPServerDisconnected as exc:
            raise ConnectionLostError(step, os_error(exc)) from None
        return code, self.transcript.redact(reply_text(reply))

    def record(
        self, step: str, ok: bool, code: int | None = None, reply: str = "", detail: str = ""
    ) -> None:
        self.transcript.record(step, ok, code, reply, detail)

    def fail(self, step: str, error: MailDeliveryError) -> MailDeliveryError:
        return self.transcript.fail(step, error)

    def _connect(self) -> None:
        smtp, endpoint = self.smtp, self.endpoint
        try:
            code, reply = smtp.connect(endpoint.host, endpoint.port)
        except ssl.SSLError as exc:
            raise self.fail(Step.TLS, endpoint.tls_error(exc)) from None
        except smtplib.SMTPServerDisconnected as exc:
            error = endpoint.network_error(os_error(exc), Step.CONNECT, smtp.phase)
            raise self.fail(Step.CONNECT, error) from None
        except OSError as exc:
            step = Step.TLS if smtp.phase == "tls" else Step.CONNECT
            raise self.fail(step, endpoint.network_error(exc, step, smtp.phase)) from None
        text = self.transcript.redact(reply_text(reply))
        if code != 220:
            raise self.fail(Step.CONNECT, endpoint.reply_error(Step.CONNECT, code, text))
        self.record(Step.CONNECT, True, code, text, detail=f"{endpoint.host}:{endpoint.port}")
        if isinstance(smtp.sock, ssl.SSLSocket):
            self.record(Step.TLS, True, detail=_implicit_tls(smtp.sock.version()))
        self._ehlo()

    def _ehlo(self) -> None:
        code, text = self.call(Step.EHLO, self.smtp.ehlo)
        if not 200 <= code < 300:
            code, text = self.call(Step.EHLO, self.smtp.helo)
        if not 200 <= code < 300:
            raise self.fail(Step.EHLO, self.endpoint.reply_error(Step.EHLO, code, text))
        self.record(Step.EHLO, True, code, text.splitlines()[0] if text else "")

    def _starttls(self) -> None:
        smtp, endpoint = self.smtp, self.endpoint
        if not smtp.has_extn("starttls"):
            # Never fall back to plaintext: the password and the message would travel in clear.
            raise self.fail(Step.TLS, endpoint.error(MailCause.STARTTLS_NOT_OFFERED, step=Step.TLS))
        try:
            code, reply = smtp.starttls(context=smtp.context)
        except smtplib.SMTPResponseException as exc:
            text = self.transcript.redact(reply_text(exc.smtp_error))
            raise self.fail(Step.TLS, endpoint.reply_error(Step.TLS, exc.smtp_code, text)) from None
        except ssl.SSLError as exc:
            raise self.fail(Step.TLS, endpoint.tls_error(exc)) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise ConnectionLostError(Step.TLS, os_error(exc)) from None
        except OSError as exc:
            raise ConnectionLostError(Step.TLS, exc) from None
        version = smtp.sock.version() if isinstance(smtp.sock, ssl.SSLSocket) else ""
        text = self.transcript.redact(reply_text(reply))
        self.record(Step.TLS, True, code, text, detail=_starttls(version))
        self._ehlo()
