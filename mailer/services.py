"""Mail services: resolving a card's settings and sending through them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.core.mail import EmailMessage
from django.utils.translation import gettext

from events.errors import UserFacingError
from mailer.causes import MailCause
from mailer.config import CardSettings, SenderConfig, sender_config_resolve
from mailer.events import mail_event_record_failure
from mailer.exceptions import MailDeliveryError, MailSettingsError
from mailer.hosts import mail_host_resolve
from mailer.messages import HeaderInjectionError, message_address, message_build, message_envelope
from mailer.platform import platform_get
from mailer.transport import SendResult, SmtpTransport, TranscriptStep
from oauth365.exceptions import M365AuthError
from oauth365.services import m365_access_token_get
from users.models import MailSender, SystemSettings, UserCard

if TYPE_CHECKING:
    from collections.abc import Callable

#: The errors a sending boundary catches: each is a UserFacingError (cause, message, transient).
SEND_ERRORS = (MailDeliveryError, HeaderInjectionError, M365AuthError)
SendError = MailDeliveryError | HeaderInjectionError | M365AuthError

TEST_MAIL_LIMIT = 5
TEST_MAIL_WINDOW = 60  # seconds


def sender_config_get(*, card: UserCard) -> SenderConfig:
    """Resolve the effective mail settings of one card against the global card and platform."""
    system = SystemSettings.load()
    global_card = system.mail_sending_card()
    return sender_config_resolve(
        user=CardSettings.from_card(card),
        global_card=CardSettings.from_card(global_card) if global_card is not None else None,
        platform=platform_get(company_slug=system.company_slug),
    )


def _xoauth2_token_provider(config: SenderConfig) -> Callable[[], str] | None:
    if config.mode != MailSender.M365_OAUTH or config.m365_token_card_id is None:
        return None
    token_card_id = config.m365_token_card_id

    def provide() -> str:
        return m365_access_token_get(card=UserCard.objects.get(pk=token_card_id))

    return provide


def mail_transport_get(*, config: SenderConfig, timeout: float | None = None) -> SmtpTransport:
    """Return an SMTP transport for resolved settings that are ready.

    A server named on a card is resolved once and checked (no internal addresses unless
    MAILER_ALLOW_PRIVATE_HOSTS); the platform relay is operator configuration and trusted.
    """
    if not config.ready or config.port is None:
        raise MailSettingsError(
            MailCause.SETTINGS_INCOMPLETE,
            host=config.host,
            port=config.port,
            extra=config.missing_params(),
        )
    connect_address = None
    if not config.uses_platform_relay:
        connect_address = mail_host_resolve(host=config.host, port=config.port)
    return _transport_build(
        config, port=config.port, connect_address=connect_address, timeout=timeout
    )


def _transport_build(
    config: SenderConfig, *, port: int, connect_address: str | None, timeout: float | None
) -> SmtpTransport:
    """Return the transport for ready settings: a password, or Microsoft 365's XOAUTH2 token."""
    oauth = config.mode == MailSender.M365_OAUTH
    xoauth2_token = _xoauth2_token_provider(config)
    if oauth and xoauth2_token is None:
        raise ValueError("Microsoft 365 OAUTH settings need an xoauth2_token provider")
    return SmtpTransport(
        host=config.host,
        port=port,
        ssl_tls=config.ssl_tls,
        username=config.username,
        password="" if oauth else config.password,
        xoauth2_token=xoauth2_token,
        connect_address=connect_address,
        timeout=timeout,
    )


def mail_failure_record(
    *, card: UserCard, error: SendError, recipient: str = "", message_id: str = ""
) -> None:
    """Record a send failure as an event on the card (the error carries no secret)."""
    mail_event_record_failure(card=card, error=error, recipient=recipient, message_id=message_id)


def message_for_config(message: EmailMessage, config: SenderConfig) -> EmailMessage:
    """Return a copy of a Django message addressed as the resolved mode requires."""
    addressed = copy.copy(message)
    addressed.extra_headers = dict(message.extra_headers)
    addressed.reply_to = list(message.reply_to)
    return message_address(addressed, config)


@dataclass
class MailTestResult:
    """The outcome of "Send test e-mail": the step-by-step transcript and the explained error."""

    ok: bool
    dry_run: bool
    transcript: list[TranscriptStep] = field(default_factory=list)
    error: SendError | None = None
    config: SenderConfig | None = None


class MailTestRateLimitedError(UserFacingError):
    """Too many test e-mails in a short time from one card."""

    causes = (MailCause.TEST_MAIL_RATE_LIMITED,)
    transient_default = True

    def __init__(self) -> None:
        super().__init__(MailCause.TEST_MAIL_RATE_LIMITED, params={"limit": TEST_MAIL_LIMIT})


def _test_mail_rate_check(card: UserCard) -> None:
    key = f"mailer:test-mail:{card.pk}"
    cache.add(key, 0, timeout=TEST_MAIL_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=TEST_MAIL_WINDOW)
        count = 1
    if count > TEST_MAIL_LIMIT:
        raise MailTestRateLimitedError()


def mail_test_send(*, card: UserCard, to: str, dry_run: bool = False) -> MailTestResult:
    """Connect, TLS, AUTH, MAIL FROM, RCPT and either RSET (dry run) or a real test message."""
    _test_mail_rate_check(card)
    config = sender_config_get(card=card)
    result = MailTestResult(ok=False, dry_run=dry_run, config=config)
    message_id = ""
    try:
        transport = mail_transport_get(config=config)
        if dry_run:
            probe = transport.probe(config.envelope_from, to)
            result.transcript, result.ok, result.error = (
                list(probe.transcript),
                probe.ok,
                probe.error,
            )
        else:
            message = message_build(
                config=config,
                to=[to],
                subject=gettext("Test e-mail from your mail settings"),
                body=_test_mail_body(config),
            )
            message_id = message.extra_headers["Message-ID"]
            envelope_from, recipients, raw = message_envelope(message, config)
            try:
                with transport:
                    sent = transport.send(envelope_from, recipients, raw)
            finally:
                result.transcript = list(transport.transcript)
            result.transcript.append(TranscriptStep("MAIL", True, detail=envelope_from))
            result.transcript.extend(
                TranscriptStep("RCPT", r.accepted, r.code, r.reply, detail=r.recipient)
                for r in sent.recipients
            )
            result.transcript.append(
                TranscriptStep(
                    "DATA", True, sent.code, sent.reply, detail=gettext("message accepted")
                )
            )
            result.ok = True
    except SEND_ERRORS as exc:
        result.error = exc
    if result.error is not None:
        mail_failure_record(card=card, error=result.error, recipient=to, message_id=message_id)
    return result


def _test_mail_body(config: SenderConfig) -> str:
    view = config.public_view()
    lines = [
        gettext("This test e-mail was sent with the mail settings of user {code}.").format(
            code=config.code
        ),
        "",
        gettext("Effective settings (value — source):"),
    ]
    for key in ("mode", "host", "port", "ssl_tls", "username", "from", "reply_to"):
        lines.append(f"  {key}: {view[key] or '—'} — {view['sources'].get(key, '')}")
    return "\n".join(lines) + "\n"


def mail_send(
    *,
    card: UserCard,
    message: EmailMessage,
    transport: SmtpTransport | None = None,
    config: SenderConfig | None = None,
) -> SendResult:
    """Send one Django message on behalf of a card; record failures as events and re-raise."""
    config = config or sender_config_get(card=card)
    message_id = str(message.extra_headers.get("Message-ID", ""))
    recipient = ", ".join(message.recipients())[:320]
    try:
        addressed = message_for_config(message, config)
        envelope_from, recipients, raw = message_envelope(addressed, config)
        if transport is None:
            with mail_transport_get(config=config) as own_transport:
                sent = own_transport.send(envelope_from, recipients, raw)
        else:
            sent = transport.send(envelope_from, recipients, raw)
    except SEND_ERRORS as exc:
        mail_failure_record(card=card, error=exc, recipient=recipient, message_id=message_id)
        raise
    for refused_to, error in sent.refused.items():
        mail_failure_record(card=card, error=error, recipient=refused_to, message_id=message_id)
    return sent
