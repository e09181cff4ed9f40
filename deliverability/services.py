"""Recording what the event mailbox receives: bounces become events on the sender's card."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from django.db import transaction

from deliverability.attribution import (
    BounceAttribution,
    bounce_attribute,
    outgoing_mail_mark_bounced,
)
from deliverability.dsn import (
    BounceRecipient,
    bounce_parse,
    message_id_normalize,
    text_clean,
)
from deliverability.models import RAW_STORE_LIMIT, InboundKind, InboundMessage
from deliverability.retention import inbound_unattributed_trim
from events.models import EventKind, MailEvent
from events.services import event_record
from users.models import UserCard

logger = logging.getLogger(__name__)

#: Only this much of a message is read for its own headers.
HEADER_LIMIT = 256 * 1024

#: cause → what it means for the sender, in their terms.
BOUNCE_CAUSES = {
    "recipient_unknown": "the address does not exist at the receiving server; check the "
    "customer's e-mail address",
    "domain_unknown": "the recipient's domain does not receive mail; check the part after the @",
    "mailbox_full": "the recipient's mailbox is full; try again later or reach them another way",
    "mailbox_unavailable": "the recipient's mailbox is disabled or unavailable",
    "rejected_authentication": "the receiving server did not trust the sender's domain (SPF, "
    "DKIM or DMARC failed); see the DNS diagnostics on your card, or send with Directo-Reply-To",
    "rejected_policy": "the receiving server refused the message by its policy (spam filter or "
    "block list)",
    "message_too_big": "the message is larger than the receiving server accepts",
    "routing_failed": "the receiving server could not be reached or routed the message nowhere",
    "bounced": "the receiving server refused the message",
}
_AUTH_STATUSES = ("5.7.23", "5.7.25", "5.7.26", "5.7.27")  # RFC 7372 and Microsoft's 5.7.23
_AUTH_WORDS = ("spf", "dkim", "dmarc", "sender authentication", "not authenticated")


def bounce_cause(status: str, diagnostic: str) -> str:
    """Return the event cause of a failed delivery from its status code and diagnostic."""
    text = diagnostic.lower()
    if status.startswith("5.7.") or " 5.7." in f" {text}":
        if status in _AUTH_STATUSES or any(word in text for word in _AUTH_WORDS):
            return "rejected_authentication"
        return "rejected_policy"
    if any(word in text for word in ("spf", "dmarc")):
        return "rejected_authentication"
    if status == "5.1.2":
        return "domain_unknown"
    if status.startswith("5.1."):
        return "recipient_unknown"
    if status == "5.2.2":
        return "mailbox_full"
    if status.startswith("5.2."):
        return "mailbox_unavailable"
    if status == "5.3.4":
        return "message_too_big"
    if status.startswith("5.4."):
        return "routing_failed"
    return "bounced"


def _event(*, card: UserCard, kind: str, cause: str, message: str, **fields: Any) -> MailEvent:
    return event_record(
        card=card, kind=kind, cause=cause, message=text_clean(message, 4000), **fields
    )


def _bounce_event(*, card: UserCard, recipient: BounceRecipient, message_id: str) -> MailEvent:
    cause = bounce_cause(recipient.status, recipient.diagnostic)
    said = f" The receiving server said: “{recipient.diagnostic}”." if recipient.diagnostic else ""
    return _event(
        card=card,
        kind=EventKind.BOUNCE,
        cause=cause,
        message=f"Mail to {recipient.recipient} bounced: {BOUNCE_CAUSES[cause]}.{said}",
        recipient=recipient.recipient[:320],
        message_id=message_id[:998],
        smtp_code=recipient.smtp_code,
        smtp_reply=recipient.diagnostic,
        step="bounce",
    )


def _delay_event(*, card: UserCard, recipient: BounceRecipient, message_id: str) -> MailEvent:
    said = f" The receiving server said: “{recipient.diagnostic}”." if recipient.diagnostic else ""
    return _event(
        card=card,
        kind=EventKind.INBOUND,
        cause="delivery_delayed",
        message=f"Delivery to {recipient.recipient} is delayed; the sending server keeps "
        f"trying and reports again if it gives up.{said}",
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
        if recipient.action != "failed":
            events.append(_delay_event(card=card, recipient=recipient, message_id=message_id))
            continue
        event = _bounce_event(card=card, recipient=recipient, message_id=message_id)
        events.append(event)
        outgoing_mail_mark_bounced(
            card=card,
            message_id=message_id,
            recipient=recipient.recipient,
            cause=event.cause,
            user_message=event.message,
            smtp_code=event.smtp_code,
        )
    if not recipients:
        sender = text_clean(envelope_from, 320) or "<>"
        what = "could not be read (stored as received)" if parse_error else f"“{subject}”"
        events.append(
            _event(
                card=card,
                kind=EventKind.INBOUND,
                cause="unparsable_mail" if parse_error else "inbound_mail",
                message=f"Mail from {sender} to the event mailbox {what}.",
                recipient=text_clean(rcpt_tos[0] if rcpt_tos else "", 320),
                message_id=message_id,
            )
        )
    return events
