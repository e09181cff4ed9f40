"""SmtpTransport: one SMTP session for resolved settings, from connection to QUIT."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from mailer.exceptions import MailDeliveryError, Step
from mailer.transport.auth import Credentials, Revealable, TokenProvider, authenticate
from mailer.transport.connection import (
    SSL_TLS_MODES,
    Connection,
    ConnectionLostError,
    Endpoint,
    ssl_context_create,
)
from mailer.transport.probe import ProbeResult, probe_steps
from mailer.transport.send import (
    RetryableError,
    SendResult,
    address_check,
    data_payload,
    transaction,
)
from mailer.transport.transcript import Transcript, TranscriptStep

if TYPE_CHECKING:
    import ssl
    from types import TracebackType


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
        password: Revealable | str = "",
        xoauth2_token: TokenProvider | None = None,
        connect_address: str | None = None,
        timeout: float | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if ssl_tls not in SSL_TLS_MODES:
            raise ValueError(f"ssl_tls must be one of {SSL_TLS_MODES}, not {ssl_tls!r}")
        if xoauth2_token is not None and not username:
            raise ValueError("XOAUTH2 needs the mailbox's username")
        self._endpoint = Endpoint(host, port, ssl_tls)
        self._credentials = Credentials(username, password, xoauth2_token)
        self.connect_address = connect_address or host
        self.timeout = float(settings.MAILER_TIMEOUT if timeout is None else timeout)
        self.local_hostname = local_hostname
        self._context: ssl.SSLContext | None = None
        self._connection: Connection | None = None
        self._transcript = Transcript()
        self._transcript.remember(self._credentials.password_reveal())

    @property
    def host(self) -> str:
        return self._endpoint.host

    @property
    def port(self) -> int:
        return self._endpoint.port

    @property
    def ssl_tls(self) -> str:
        return self._endpoint.ssl_tls

    @property
    def username(self) -> str:
        return self._credentials.username

    def __repr__(self) -> str:
        return (
            f"<SmtpTransport {self.host}:{self.port} ssl_tls={self.ssl_tls} "
            f"username={self.username!r} connected={self._live() is not None}>"
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
        return self._transcript.steps

    def open(self) -> None:
        """Connect, set up TLS and authenticate, unless already connected."""
        self._open()

    def close(self) -> None:
        """Say QUIT and close the connection; errors while closing do not matter."""
        connection = self._live()
        self._connection = None
        if connection is not None:
            connection.quit()

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
        address_check(self._endpoint, envelope_from, Step.MAIL, allow_empty=True)
        for recipient in recipients:
            address_check(self._endpoint, recipient, Step.RCPT)
        payload = data_payload(message)
        for attempt in (0, 1):
            connection = self._open()
            try:
                result = transaction(connection, envelope_from, recipients, payload, before_data)
            except RetryableError as retry:
                connection.drop()
                if attempt:
                    raise retry.error from None
                continue
            return replace(result, reconnected=bool(attempt))
        raise AssertionError("unreachable")

    def probe(self, envelope_from: str, recipient: str) -> ProbeResult:
        """Connect, TLS, AUTH, MAIL FROM, RCPT TO and RSET on a fresh connection; send nothing."""
        self.close()
        error: MailDeliveryError | None = None
        try:
            address_check(self._endpoint, envelope_from, Step.MAIL, allow_empty=True)
            address_check(self._endpoint, recipient, Step.RCPT)
            probe_steps(self._open(), envelope_from, recipient)
        except MailDeliveryError as exc:
            error = exc
        finally:
            self.close()
        return ProbeResult(ok=error is None, transcript=self.transcript, error=error)

    def _live(self) -> Connection | None:
        """Return the open connection; a collaborator may have dropped it after a failure."""
        if self._connection is not None and self._connection.closed:
            self._connection = None
        return self._connection

    def _open(self) -> Connection:
        connection = self._live()
        if connection is not None:
            return connection
        self._transcript.restart()
        if self._context is None:
            self._context = ssl_context_create()
        connection = Connection(
            self._endpoint,
            address=self.connect_address,
            context=self._context,
            timeout=self.timeout,
            local_hostname=self.local_hostname,
            transcript=self._transcript,
        )
        try:
            connection.setup()
            authenticate(connection, self._credentials)
        except ConnectionLostError as lost:
            connection.drop()
            error = self._endpoint.network_error(lost.error, lost.step)
            raise connection.fail(lost.step, error) from None
        except BaseException:
            # Never QUIT here: after a failed handshake the stream is not safe to write to.
            connection.drop()
            raise
        self._connection = connection
        return connection
