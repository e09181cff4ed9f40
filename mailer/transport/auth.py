"""SMTP AUTH: PLAIN or LOGIN with a password in UTF-8, XOAUTH2 with an OAuth access token."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables

from events.errors import Param
from mailer.causes import MailCause, detail_params
from mailer.exceptions import MailDeliveryError, Step, XOAuth2Error
from mailer.transport.connection import Connection, ConnectionLostError

TokenProvider = Callable[[], str]

_MAX_AUTH_ROUNDS = 4
# Fixed `detail` texts: stored in English, translated when shown (mailer.causes.DETAILS).
_NO_AUTH = "the server does not advertise AUTH"
_NO_REASON = "the server gave no reason"
# What a 334 challenge status means (RFC 7628 errors as Microsoft and Google use them); the
# templates are in mailer.causes.DETAILS, translated when shown.
_XOAUTH2_STATUS = {
    "400": "the token request was malformed",
    "401": "the token is invalid, expired or revoked",
    "403": "the token lacks the permission to send mail",
}
_XOAUTH2_REFUSED = "the token was refused"


@runtime_checkable
class Revealable(Protocol):
    """A secret that shows its plaintext only when asked (as `users.secrets.Secret` does)."""

    def reveal(self) -> str: ...


@dataclass(frozen=True)
class Credentials:
    """Who logs in and how; neither the password nor the token provider shows in a repr."""

    username: str = ""
    password: str | Revealable = field(default="", repr=False)
    xoauth2_token: TokenProvider | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.password, str | Revealable):
            kind = type(self.password).__name__
            raise TypeError(f"a password is a str or has reveal(), not {kind}")

    def password_reveal(self) -> str:
        """Return the password's plaintext: only for AUTH and for redacting replies."""
        password = self.password
        return password if isinstance(password, str) else password.reveal()


def _signed_in(mechanism: str, username: str) -> str:
    """Return the transcript's detail of a successful AUTH (shown on the test panel)."""
    return gettext("{mechanism} as {username}").format(mechanism=mechanism, username=username)


def authenticate(connection: Connection, credentials: Credentials) -> None:
    """Log in with XOAUTH2 when a token provider is set, else with the password if a user is."""
    if credentials.xoauth2_token is not None:
        _auth_xoauth2(connection, credentials.username, credentials.xoauth2_token)
    elif credentials.username:
        _auth_password(connection, credentials)


def _mechanisms(connection: Connection) -> list[str]:
    if not connection.smtp.has_extn("auth"):
        raise _not_offered(connection, detail_params(_NO_AUTH))
    return connection.smtp.esmtp_features["auth"].upper().split()


def _not_offered(connection: Connection, detail: dict[str, Param]) -> MailDeliveryError:
    error = connection.endpoint.error(MailCause.AUTH_NOT_OFFERED, step=Step.AUTH, extra=detail)
    return connection.fail(Step.AUTH, error)


def _offered(mechanisms: list[str], *, xoauth2: bool) -> dict[str, Param]:
    """Return the detail naming the mechanisms a server offers (their names stay as sent)."""
    prefix = "no XOAUTH2; it offers {mechanisms}" if xoauth2 else "it offers only {mechanisms}"
    if not mechanisms:
        empty = "no XOAUTH2; it lists no mechanism" if xoauth2 else "it lists no mechanism"
        return detail_params(empty)
    return detail_params(prefix, mechanisms=", ".join(mechanisms))


@sensitive_variables()
def _auth_password(connection: Connection, credentials: Credentials) -> None:
    mechanisms = _mechanisms(connection)
    user, password = credentials.username.encode(), credentials.password_reveal().encode()
    # PLAIN and LOGIN in UTF-8 (RFC 4616); smtplib.login() would refuse non-ASCII passwords.
    if "PLAIN" in mechanisms:
        mechanism, initial, answers = "PLAIN", b"\0" + user + b"\0" + password, []
    elif "LOGIN" in mechanisms:
        mechanism, initial, answers = "LOGIN", None, [user, password]
    else:
        raise _not_offered(connection, _offered(mechanisms, xoauth2=False))
    code, text = _sasl(connection, mechanism, initial, answers)
    if code not in (235, 503):  # 503: already authenticated
        error = connection.endpoint.reply_error(Step.AUTH, code, text, mechanism)
        raise connection.fail(Step.AUTH, error)
    connection.record(
        Step.AUTH, True, code, text, detail=_signed_in(mechanism, credentials.username)
    )


@sensitive_variables()
def _sasl(
    connection: Connection, mechanism: str, initial: bytes | None, answers: list[bytes]
) -> tuple[int, str]:
    transcript = connection.transcript
    args = mechanism if initial is None else f"{mechanism} {transcript.secret_b64(initial)}"
    code, text = connection.command(Step.AUTH, "AUTH", args)
    pending = list(answers) or ([initial] if initial is not None else [])
    rounds = 0
    while code == 334 and pending and rounds < _MAX_AUTH_ROUNDS:
        rounds += 1
        code, text = connection.command(Step.AUTH, transcript.secret_b64(pending.pop(0)))
    return code, text


@sensitive_variables()
def _auth_xoauth2(connection: Connection, username: str, token_provider: TokenProvider) -> None:
    mechanisms = _mechanisms(connection)
    if "XOAUTH2" not in mechanisms:
        raise _not_offered(connection, _offered(mechanisms, xoauth2=True))
    transcript = connection.transcript
    token = token_provider()
    transcript.remember(token)
    initial = f"user={username}\x01auth=Bearer {token}\x01\x01".encode()
    code, reply = connection.command(Step.AUTH, "AUTH", f"XOAUTH2 {transcript.secret_b64(initial)}")
    if code == 334:
        # A failed XOAUTH2 answers 334 <base64 JSON>; the client must send an empty line
        # and then gets the final 5xx (RFC 7628 section 3.2.3).
        challenge = _xoauth2_challenge(connection, reply)
        try:
            code, text = connection.command(Step.AUTH, "")
        except ConnectionLostError:
            # The decoded challenge is the explanation, even if the server hangs up now.
            code, text = 0, ""
        endpoint = connection.endpoint
        raise connection.fail(
            Step.AUTH,
            XOAuth2Error(
                status=challenge.get("status", ""),
                schemes=challenge.get("schemes", ""),
                scope=challenge.get("scope", ""),
                step=Step.AUTH,
                smtp_code=code or None,
                smtp_reply=text,
                host=endpoint.host,
                port=endpoint.port,
                extra=_xoauth2_meaning(challenge),
            ),
        )
    if code != 235:
        error = connection.endpoint.reply_error(Step.AUTH, code, reply, "XOAUTH2")
        raise connection.fail(Step.AUTH, error)
    connection.record(Step.AUTH, True, code, reply, detail=_signed_in("XOAUTH2", username))


def _xoauth2_challenge(connection: Connection, reply: str) -> dict[str, str]:
    """Decode the 334 challenge's base64 JSON (RFC 7628); every value redacted."""
    try:
        decoded = json.loads(base64.b64decode(reply.strip(), validate=True))
    except (binascii.Error, ValueError):
        return {}
    if not isinstance(decoded, dict):
        return {}
    return {key: connection.transcript.redact(str(value)) for key, value in decoded.items()}


def _xoauth2_meaning(challenge: dict[str, str]) -> dict[str, Param]:
    """Return the detail of a refused token: the status, what it means, the scope asked for."""
    status = challenge.get("status", "")
    if not status:
        return detail_params(_NO_REASON)
    template = "status {xoauth2_status}: " + _XOAUTH2_STATUS.get(status, _XOAUTH2_REFUSED)
    values: dict[str, Param] = {"xoauth2_status": status}
    if challenge.get("scope"):
        template += "; required scope {xoauth2_scope}"
        values["xoauth2_scope"] = challenge["scope"]
    return detail_params(template, **values)
