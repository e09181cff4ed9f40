"""The dry run: MAIL FROM, RCPT TO and RSET on a fresh connection, each step recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailer.exceptions import MailDeliveryError, Step
from mailer.transport.connection import Connection, ConnectionLostError
from mailer.transport.send import mail_options
from mailer.transport.transcript import TranscriptStep


@dataclass(frozen=True)
class ProbeResult:
    """A dry run's outcome: the transcript and the explained error, if any."""

    ok: bool
    transcript: tuple[TranscriptStep, ...]
    error: MailDeliveryError | None = None


def probe_steps(connection: Connection, envelope_from: str, recipient: str) -> None:
    """Ask the server to accept the envelope, then reset: nothing is sent."""
    options = mail_options(connection, envelope_from, (recipient,), b"")
    _step(connection, Step.MAIL, f"FROM:<{envelope_from}>{options}", sender=envelope_from)
    _step(connection, Step.RCPT, f"TO:<{recipient}>", recipient=recipient)
    _step(connection, Step.RSET, "")


def _step(connection: Connection, step: str, args: str, **context: Any) -> None:
    try:
        code, text = connection.command(step, step, args)
    except ConnectionLostError as lost:
        connection.drop()
        raise connection.fail(step, connection.endpoint.network_error(lost.error, step)) from None
    if code not in (250, 251):
        raise connection.fail(step, connection.endpoint.reply_error(step, code, text, **context))
    connection.record(step, True, code, text)
