"""Sending one message over an open connection: MAIL, RCPT, DATA and per-recipient results."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailer.causes import MailCause
from mailer.exceptions import InvalidAddressError, MailDeliveryError, OutcomeUnknownError, Step
from mailer.transport.connection import (
    Connection,
    ConnectionLostError,
    Endpoint,
    os_error,
    reply_text,
)

_CRLF = b"\r\n"
_EOLS = re.compile(rb"\r\n|\n|\r")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
_UNSAFE_ADDRESS = re.compile(r"[\r\n\x00<>\s]")


def _leading_dot(message: bytes) -> bool:
    """Return whether a line starts with a dot (dots are few: base64 has none), dot by dot."""
    dot = message.find(b".")
    while dot != -1:
        if dot == 0 or message[dot - 1] == 0x0A:
            return True
        dot = message.find(b".", dot + 1)
    return False


def data_payload(message: bytes) -> bytes:
    """Return the DATA payload: CRLF line ends, leading dots doubled, the final "." line.

    A message built by message_envelope already has CRLF line ends and rarely a line that
    starts with a dot: two counts and a search tell, and it is then sent as it is (no copy
    line by line).
    """
    newlines = message.count(b"\n")
    if newlines != message.count(b"\r\n") or newlines != message.count(b"\r"):
        message = _EOLS.sub(_CRLF, message)
    payload = _LEADING_DOT.sub(b"..", message) if _leading_dot(message) else message
    if not payload.endswith(_CRLF):
        payload += _CRLF
    return payload + b"." + _CRLF


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


class RetryableError(Exception):
    """The message was certainly not accepted and may go again on a new connection (internal)."""

    def __init__(self, error: MailDeliveryError) -> None:
        super().__init__(error.cause)
        self.error = error


def address_check(
    endpoint: Endpoint, address: str, step: str, *, allow_empty: bool = False
) -> None:
    """Refuse an envelope address that could smuggle a command (CR, LF, NUL, brackets, space)."""
    if (not address and not allow_empty) or _UNSAFE_ADDRESS.search(address):
        raise InvalidAddressError(
            MailCause.ADDRESS_INVALID,
            step=step,
            host=endpoint.host,
            port=endpoint.port,
            recipient=address if step == Step.RCPT else None,
            detail=_UNSAFE_ADDRESS.sub("?", address),
        )


def mail_options(
    connection: Connection, envelope_from: str, recipients: tuple[str, ...], payload: bytes
) -> str:
    """Return the MAIL FROM parameters (8BITMIME, SMTPUTF8) and set the command encoding."""
    smtp = connection.smtp
    options = ""
    if not payload.isascii() and smtp.has_extn("8bitmime"):
        options += " BODY=8BITMIME"
    smtp.command_encoding = "ascii"
    for address in (envelope_from, *recipients):
        if address.isascii():
            continue
        if not smtp.has_extn("smtputf8"):
            raise InvalidAddressError(
                MailCause.SMTPUTF8_NOT_SUPPORTED,
                step=Step.RCPT if address in recipients else Step.MAIL,
                host=connection.endpoint.host,
                port=connection.endpoint.port,
                recipient=address if address in recipients else None,
                detail=address,
            )
        smtp.command_encoding = "utf-8"
        return options + " SMTPUTF8"
    return options


def transaction(
    connection: Connection,
    envelope_from: str,
    recipients: tuple[str, ...],
    payload: bytes,
    before_data: Callable[[], None] | None = None,
) -> SendResult:
    """Run MAIL, RCPT and DATA for one message; raise RetryableError when it may go again.

    A server that offers PIPELINING (RFC 2920) gets MAIL, every RCPT and DATA in one write and
    answers them in order: one round trip instead of two and one per recipient.
    """
    endpoint = connection.endpoint
    options = mail_options(connection, envelope_from, recipients, payload)
    mail = f"FROM:<{envelope_from}>{options}"
    if connection.smtp.has_extn("pipelining"):
        results = _envelope_pipelined(connection, mail, envelope_from, recipients)
    else:
        results = _envelope(connection, mail, envelope_from, recipients)
    if before_data is not None:
        try:
            before_data()
        except BaseException:
            # After 354 only the data may follow: the session cannot be reset, only dropped.
            connection.drop()
            raise
    try:
        connection.smtp.send(payload)
    except smtplib.SMTPServerDisconnected as exc:
        # sendall() failed, so the final "." line never left: the server cannot have
        # accepted the message, and sending it again is safe.
        raise RetryableError(endpoint.network_error(os_error(exc), Step.DATA)) from None
    try:
        code, reply = connection.smtp.getreply()
    except smtplib.SMTPServerDisconnected as exc:
        connection.drop()
        reason = os_error(exc)
        raise OutcomeUnknownError(
            MailCause.OUTCOME_UNKNOWN,
            step=Step.DATA,
            host=endpoint.host,
            port=endpoint.port,
            recipient=recipients[0] if len(recipients) == 1 else None,
            detail=reason.strerror or str(reason) or type(reason).__name__,
        ) from None
    text = connection.transcript.redact(reply_text(reply))
    if code == 421:
        raise RetryableError(endpoint.reply_error(Step.DATA, code, text))
    if code != 250:
        raise endpoint.reply_error(Step.DATA, code, text)
    return SendResult(tuple(results), code, text)


def _recipient_result(endpoint: Endpoint, recipient: str, code: int, text: str) -> RecipientResult:
    accepted = code in (250, 251)
    error = None if accepted else endpoint.reply_error(Step.RCPT, code, text, recipient=recipient)
    return RecipientResult(recipient, accepted, code, text, error)


def _no_recipient(results: list[RecipientResult]) -> MailDeliveryError | None:
    """Return the first refusal when the server accepted none of the recipients."""
    if any(r.accepted for r in results):
        return None
    first = results[0].error
    assert first is not None
    return first


def _envelope(
    connection: Connection, mail: str, envelope_from: str, recipients: tuple[str, ...]
) -> list[RecipientResult]:
    """MAIL, RCPT and DATA one at a time, each waiting for its answer; ends at the 354."""
    endpoint = connection.endpoint
    code, text = _txn_command(connection, Step.MAIL, "MAIL", mail)
    if code != 250:
        _reset(connection)
        raise endpoint.reply_error(Step.MAIL, code, text, sender=envelope_from)
    results = []
    for recipient in recipients:
        code, text = _txn_command(connection, Step.RCPT, "RCPT", f"TO:<{recipient}>")
        results.append(_recipient_result(endpoint, recipient, code, text))
    refused = _no_recipient(results)
    if refused is not None:
        _reset(connection)
        raise refused
    code, text = _txn_command(connection, Step.DATA, "DATA")
    if code != 354:
        _reset(connection)
        raise endpoint.reply_error(Step.DATA, code, text)
    return results


def _envelope_pipelined(
    connection: Connection, mail: str, envelope_from: str, recipients: tuple[str, ...]
) -> list[RecipientResult]:
    """MAIL, every RCPT and DATA in one write (PIPELINING), then their answers in order.

    Ends at the 354 like `_envelope`. A server that answers DATA with 354 although the sender
    or every recipient was refused gets nothing more: the connection is dropped, so no data
    (not even an empty message) can go out.
    """
    endpoint = connection.endpoint
    commands = [
        (Step.MAIL, "MAIL", mail),
        *((Step.RCPT, "RCPT", f"TO:<{recipient}>") for recipient in recipients),
        (Step.DATA, "DATA", ""),
    ]
    (mail_code, mail_text), *rcpt_replies, (data_code, data_text) = _pipelined(connection, commands)
    results = [
        _recipient_result(endpoint, recipient, code, text)
        for recipient, (code, text) in zip(recipients, rcpt_replies, strict=True)
    ]
    refused: MailDeliveryError | None
    if mail_code != 250:
        refused = endpoint.reply_error(Step.MAIL, mail_code, mail_text, sender=envelope_from)
    else:
        refused = _no_recipient(results)
    if refused is None and data_code != 354:
        refused = endpoint.reply_error(Step.DATA, data_code, data_text)
    if refused is not None:
        if data_code == 354:
            connection.drop()
        else:
            _reset(connection)
        raise refused
    return results


def _pipelined(
    connection: Connection, commands: Sequence[tuple[str, str, str]]
) -> list[tuple[int, str]]:
    """Write (step, command, arguments) in one go; return each answer in order.

    RetryableError as `_txn_command` (a lost connection, a 421): no data has left yet.
    """
    smtp, endpoint = connection.smtp, connection.endpoint
    step = commands[0][0]
    replies = []
    try:
        smtp.send(
            "".join(f"{cmd} {args}\r\n" if args else f"{cmd}\r\n" for _, cmd, args in commands)
        )
        for command in commands:
            step = command[0]
            code, reply = smtp.getreply()
            text = connection.transcript.redact(reply_text(reply))
            if code == 421:
                raise RetryableError(endpoint.reply_error(step, code, text))
            replies.append((code, text))
    except smtplib.SMTPServerDisconnected as exc:
        raise RetryableError(endpoint.network_error(os_error(exc), step)) from None
    return replies


def _txn_command(connection: Connection, step: str, cmd: str, args: str = "") -> tuple[int, str]:
    """Run a command before the message data; a 421 or a lost connection may be retried."""
    try:
        code, text = connection.command(step, cmd, args)
    except ConnectionLostError as lost:
        raise RetryableError(connection.endpoint.network_error(lost.error, step)) from None
    if code == 421:
        raise RetryableError(connection.endpoint.reply_error(step, code, text))
    return code, text


def _reset(connection: Connection) -> None:
    """Abort the transaction so the connection serves the next message, or drop it."""
    try:
        code, _ = connection.command(Step.RSET, "RSET")
    except ConnectionLostError:
        code = 0
    if code != 250:
        connection.drop()
