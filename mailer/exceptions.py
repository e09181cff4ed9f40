"""Named sending errors: each carries its cause (a MailCause), its parameters, if transient."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from events.errors import Param, UserFacingError
from mailer.causes import MailCause


class Step(StrEnum):
    """The step of an SMTP session that failed (stored on events as text)."""

    CONNECT = "CONNECT"
    EHLO = "EHLO"
    TLS = "TLS"
    AUTH = "AUTH"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    RSET = "RSET"


@dataclass(frozen=True)
class SmtpDetails:
    """What the SMTP session says about a failure: the step, the reply and the recipient."""

    step: str = ""
    code: int | None = None
    reply: str = ""
    recipient: str = ""


class MailDeliveryError(UserFacingError):
    """A message could not be handed to the mail server; `message` says why and the fix.

    The SMTP facts of the failure (step, reply, recipient, server) are typed attributes and
    also the parameters of the message, so an event can render it again when shown.
    """

    causes: ClassVar[tuple[MailCause, ...]] = ()

    cause: MailCause
    step: str | None
    smtp_code: int | None
    smtp_reply: str
    recipient: str | None
    host: str
    port: int | None
    detail: str

    def __init__(
        self,
        cause: MailCause | str,
        *,
        step: str | None = None,
        smtp_code: int | None = None,
        smtp_reply: str = "",
        recipient: str | None = None,
        host: str = "",
        port: int | None = None,
        transient: bool | None = None,
        detail: str = "",
        extra: Mapping[str, Param] | None = None,
    ) -> None:
        self.step = step
        self.smtp_code = smtp_code
        self.smtp_reply = smtp_reply
        self.recipient = recipient
        self.host = host
        self.port = port
        transient = self.transient_default if transient is None else transient
        params = {
            "host": host,
            "port": port,
            "step": str(step) if step else "",
            "recipient": recipient or "",
            "smtp_code": smtp_code,
            "smtp_reply": smtp_reply,
            "detail": detail,
            "transient": int(transient),
            # What a cause's template names besides (e.g. the reasons of settings_incomplete).
            **(extra or {}),
        }
        self.detail = str(params["detail"] or "")
        super().__init__(cause, params=params, transient=transient)

    @property
    def smtp(self) -> SmtpDetails:
        """Return the SMTP facts of the failure (recorded on the event next to the message)."""
        return SmtpDetails(
            step=str(self.step or ""),
            code=self.smtp_code,
            reply=self.smtp_reply,
            recipient=self.recipient or "",
        )


class MailConnectionError(MailDeliveryError):
    """The server could not be reached, or the connection broke before anything was sent."""

    transient_default = True
    causes = (
        MailCause.CONNECTION_REFUSED,
        MailCause.TIMEOUT,
        MailCause.CONNECTION_LOST,
        MailCause.HOST_NOT_FOUND,
        MailCause.CONNECTION_FAILED,
        MailCause.HOST_NOT_ALLOWED,
    )


class MailTlsError(MailDeliveryError):
    """The encrypted connection could not be set up as configured; nothing was sent."""

    causes = (
        MailCause.SSL_ON_STARTTLS_PORT,
        MailCause.PLAINTEXT_ON_SSL_PORT,
        MailCause.STARTTLS_NOT_OFFERED,
        MailCause.ENCRYPTION_REQUIRED,
        MailCause.CERTIFICATE_UNTRUSTED,
        MailCause.CERTIFICATE_HOSTNAME_MISMATCH,
        MailCause.TLS_FAILED,
    )


class MailAuthError(MailDeliveryError):
    """The server did not accept the card's credentials."""

    causes: ClassVar[tuple[MailCause, ...]] = (
        MailCause.AUTH_REQUIRED,
        MailCause.AUTH_NOT_OFFERED,
        MailCause.AUTH_REJECTED,
        MailCause.GMAIL_APP_PASSWORD_REQUIRED,
        MailCause.M365_SMTP_AUTH_DISABLED,
        MailCause.M365_BASIC_AUTH_RETIRED,
        MailCause.M365_SEND_AS_DENIED,
    )


class XOAuth2Error(MailAuthError):
    """Microsoft 365 refused the OAuth token; the decoded 334 challenge says why."""

    causes = (MailCause.XOAUTH2_REJECTED,)

    def __init__(
        self,
        cause: MailCause | str = MailCause.XOAUTH2_REJECTED,
        *,
        status: str = "",
        schemes: str = "",
        scope: str = "",
        **kwargs: Any,
    ) -> None:
        self.status = status
        self.schemes = schemes
        self.scope = scope
        super().__init__(cause, **kwargs)


class MailThrottledError(MailDeliveryError):
    """The server asks to slow down, or the mailbox used up its sending allowance."""

    # quota_exceeded from a 5xx reply is not transient: the allowance resets after hours, so
    # an automatic retry only repeats the failure (smtp_reply_error passes transient itself).
    transient_default = True
    causes = (MailCause.THROTTLED, MailCause.QUOTA_EXCEEDED)


class SenderRefusedError(MailDeliveryError):
    """The server refused the envelope sender (MAIL FROM)."""

    causes = (MailCause.SENDER_REFUSED,)


class RecipientRefusedError(MailDeliveryError):
    """The server refused a recipient (RCPT TO)."""

    causes = (MailCause.RECIPIENT_REFUSED,)


class MessageRefusedError(MailDeliveryError):
    """The server refused the message itself, or answered a step unexpectedly."""

    causes = (MailCause.MESSAGE_REFUSED, MailCause.SERVER_REJECTED)


class OutcomeUnknownError(MailDeliveryError):
    """The connection broke after the whole message was sent: it may have been delivered."""

    causes = (MailCause.OUTCOME_UNKNOWN,)


class InvalidAddressError(MailDeliveryError):
    """An envelope address cannot be used (refused before anything is sent)."""

    causes = (MailCause.ADDRESS_INVALID, MailCause.SMTPUTF8_NOT_SUPPORTED)


class MailSettingsError(MailDeliveryError):
    """The resolved settings are not ready: nothing is sent until they are completed."""

    causes = (MailCause.SETTINGS_INCOMPLETE,)


ERROR_CLASSES: dict[MailCause, type[MailDeliveryError]] = {
    cause: cls
    for cls in (
        MailConnectionError,
        MailTlsError,
        MailAuthError,
        XOAuth2Error,
        MailThrottledError,
        SenderRefusedError,
        RecipientRefusedError,
        MessageRefusedError,
        OutcomeUnknownError,
        InvalidAddressError,
        MailSettingsError,
    )
    for cause in cls.causes
}
#: The causes of a failed SMTP delivery (the other MailCause members are raised elsewhere).
CAUSES = frozenset(ERROR_CLASSES)


def delivery_error(cause: MailCause | str, **kwargs: Any) -> MailDeliveryError:
    """Return the named error for a cause code (a code that is no MailCause is refused)."""
    return ERROR_CLASSES[MailCause(cause)](cause, **kwargs)
