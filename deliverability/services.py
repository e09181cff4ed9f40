"""Recording what the event mailbox receives: bounces become events on the sender's card."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from django.db import transaction

from deliverability.attribution import (
    BounceAttribution,
    bounce_attribute,
    outgoing_mail_mark_bounced,
)
from deliverability.causes import DeliverabilityCause
from deliverability.dsn import (
    BounceRecipient,
    bounce_parse,
    message_id_normalize,
    text_clean,
)
from deliverability.models import RAW_STORE_LIMIT, InboundKind, InboundMessage
from deliverability.retention import inbound_unattributed_trim
from events.errors import Param
from events.models import EventKind, MailEvent
from events.services import event_record
from users.models import UserCard

logger = logging.getLogger(__name__)

#: Only this much of a message is read for its own headers.
HEADER_LIMIT = 256 * 1024

_AUTH_STATUSES = ("5.7.23", "5.7.25", "5.7.26", "5.7.27")  # RFC 7372 and Microsoft's 5.7.23
_AUTH_WORDS = ("spf", "dkim", "dmarc", "sender authentication", "not authenticated")


def bounce_cause(status: str, diagnostic: str) -> DeliverabilityCause:
    """Return the event cause of a failed delivery from its status code and diagnostic."""
    text = diagnostic.lower()
    if status.startswith("5.7.") or " 5.7." in f" {text}":
        if status in _AUTH_STATUSES or any(word in text for word in _AUTH_WORDS):
            return DeliverabilityCause.REJECTED_AUTHENTICATION
        return DeliverabilityCause.REJECTED_POLICY
    if any(word in text for word in ("spf", "dmarc")):
        return DeliverabilityCause.REJECTED_AUTHENTICATION
    if status == "5.1.2":
        return DeliverabilityCause.DOMAIN_UNKNOWN
    if status.startswith("5.1."):
        return DeliverabilityCause.RECIPIENT_UNKNOWN
    if status == "5.2.2":
        return DeliverabilityCause.MAILBOX_FULL
    if status.startswith("5.2."):
        return DeliverabilityCause.MAILBOX_UNAVAILABLE
    if status == "5.3.4":
        return DeliverabilityCause.MESSAGE_TOO_BIG
    if status.startswith("5.4."):
        return DeliverabilityCause.ROUTING_FAILED
    return DeliverabilityCause.BOUNCED


def _event(
    *,
    card: UserCard,
    kind: str,
    cause: DeliverabilityCause,
    params: Mapping[str, str],
    **fields: Any,
) -> MailEvent:
    """Record an event with its cause and parameters; the page makes its text when shown."""
    # Cleaned before rendering, so the stored message is exactly the text the params make.
    cleaned: dict[str, Param] = {key: text_clean(value, 4000) for key, value in params.items()}
    return event_record(
        card=card,
        kind=kind,
        cause=cause,
        params=cleaned,
        message=text_clean(cause.render(cleaned), 4000),
        **fields,
    )


def _recipient_event(*, card: UserCard, recipient: BounceRecipient, message_id: str) -> MailEvent:
    """Record a failed delivery (a bounce) or a delayed one of one recipient."""
    if recipient.action == "failed":
        kind, cause = EventKind.BOUNCE, bounce_cause(recipient.status, recipient.diagnostic)
    else:
        kind, cause = EventKind.INBOUND, DeliverabilityCause.DELIVERY_DELAYED
    return _event(
        card=card,
        kind=kind,
        cause=cause,
        params={
            "recipient": recipient.recipient,
            "status": recipient.status,
            "diagnostic": recipient.diagnostic,
        },
        recipient=recipient.recipient[:320],
        message_id=message_id[:998],
        smtp_code=recipient.smtp_code,
        smtp_reply=recipient.diagnostic,
        step="bounce",
    )


def inbound_message_receive(
    *, envelope_from: str, rcpt_tos: Sequence[str], raw: bytes, peer: str = ""
) -> InboundMessage:
    """Store one received message and record its events (a bounce on the sender's card)."""
    subject = own_message_id = in_reply_to = parse_error = ""
    try:
        # Headers only: the body is the bounce parser's business, within its own limits.
        parsed = BytesHeaderParser(policy=compat32).parsebytes(raw[:HEADER_LIMIT])
        subject = text_clean(parsed.get("Subject", ""))
        own_message_id = message_id_normalize(str(parsed.get("Message-ID", "")))
        in_reply_to = message_id_normalize(str(parsed.get("In-Reply-To", "")))
        if parsed.defects and not parsed.keys():
            parse_error = "no headers: " + text_clean(parsed.defects[0], 400)
    except Exception as exc:  # hostile bytes: keep them, say why they were not understood
        parse_error = text_clean(f"{type(exc).__name__}: {exc}", 500) or "unparsable"
    report = bounce_parse(raw) if not parse_error else None
    if report is not None and report.failed:
        kind = InboundKind.BOUNCE
    elif report is not None:
        kind = InboundKind.DELAYED
    elif parse_error:
        kind = InboundKind.UNPARSABLE
    else:
        kind = InboundKind.INBOUND
    original_id = report.original_message_id if report is not None else in_reply_to

    recipients = [r.recipient for r in report.recipients] if report is not None else []
    attribution = bounce_attribute(
        rcpt_tos=rcpt_tos, original_message_id=original_id, recipients=recipients
    )

    with transaction.atomic():
        stored = InboundMessage.objects.create(
            envelope_from=text_clean(envelope_from, 320),
            envelope_to="\n".join(text_clean(r, 320) for r in rcpt_tos[:100]),
            peer=text_clean(peer, 100),
            size=len(raw),
            kind=kind,
            subject=subject,
            message_id=own_message_id,
            original_message_id=original_id,
            bounce_format=report.format if report is not None else "",
            parse_error=parse_error,
            raw=raw[:RAW_STORE_LIMIT],
            raw_truncated=len(raw) > RAW_STORE_LIMIT,
            card=attribution.card,
            attribution=attribution.by,
        )
        events = _events_record(
            attribution=attribution,
            recipients=report.recipients if report is not None else (),
            envelope_from=envelope_from,
            rcpt_tos=rcpt_tos,
            subject=subject,
            parse_error=parse_error,
        )
        stored.events.add(*events)
    if attribution.card is None:
        inbound_unattributed_trim()
    return stored


def _events_record(
    *,
    attribution: BounceAttribution,
    recipients: Sequence[BounceRecipient],
    envelope_from: str,
    rcpt_tos: Sequence[str],
    subject: str,
    parse_error: str,
) -> list[MailEvent]:
    """Record the events of an attributed message; unattributed mail puts none on any card."""
    card = attribution.card
    if card is None:
        return []
    message_id = attribution.message_id
    events = []
    for recipient in recipients:
        if not attribution.covers(recipient.recipient):
            continue
        event = _recipient_event(card=card, recipient=recipient, message_id=message_id)
        events.append(event)
        if recipient.action != "failed":
            continue
        outgoing_mail_mark_bounced(
            card=card,
            message_id=message_id,
            recipient=recipient.recipient,
            cause=event.cause,
            user_message=event.message,
            smtp_code=event.smtp_code,
        )
    if not recipients:
        events.append(
            _event(
                card=card,
                kind=EventKind.INBOUND,
                cause=(
                    DeliverabilityCause.UNPARSABLE_MAIL
                    if parse_error
                    else DeliverabilityCause.INBOUND_MAIL
                ),
                params={"sender": text_clean(envelope_from, 320) or "<>", "subject": subject},
                recipient=text_clean(rcpt_tos[0] if rcpt_tos else "", 320),
                message_id=message_id,
            )
        )
    return events
