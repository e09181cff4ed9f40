"""Whose bounce is it: only what a bounce's sender cannot forge ties it to a card (SPEC.md).

1. A verified VERP envelope recipient: the product signed it onto the card's message.
2. The Message-ID of a message the product sent to the very recipient the bounce names.
The From, Reply-To and addresses the bounce quotes are the bouncing party's words and tie
nothing to anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q

from deliverability.models import Attribution
from events.models import EventKind, MailEvent
from mailer.verp import verp_address_parse
from massmail.models import MailStatus, OutgoingMail
from users.models import UserCard

#: Only these envelope recipients and reported recipients are looked at.
RCPT_LOOKUP_LIMIT = 20
RECIPIENT_LOOKUP_LIMIT = 50
#: Sent rows in these states may become `bounced` (never `failed`, `queued` and the like).
BOUNCEABLE_STATUSES = (MailStatus.SENT, MailStatus.UNKNOWN)
#: Rows in these states are messages the product sent (or may have sent) to their recipient.
SENT_STATUSES = (*BOUNCEABLE_STATUSES, MailStatus.BOUNCED)


@dataclass(frozen=True)
class BounceAttribution:
    """A card, how it was found, and what of the bounce can be trusted for that card."""

    card: UserCard | None = None
    by: str = Attribution.NONE
    #: The original's Message-ID when it is proven to be this card's message, else "".
    message_id: str = ""
    #: The reported recipients it holds for (lower case); None: every one the bounce names.
    recipients: frozenset[str] | None = None

    def covers(self, recipient: str) -> bool:
        """Return whether events about this recipient may go on the card."""
        if self.card is None:
            return False
        return self.recipients is None or recipient.lower() in self.recipients


UNATTRIBUTED = BounceAttribution()


def message_id_variants(message_id: str) -> list[str]:
    """Return the forms a Message-ID may be stored in: `<id>` and bare `id`."""
    bare = message_id.strip("<>")
    return [f"<{bare}>", bare] if bare else []


def _lowered(addresses: Iterable[str]) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in addresses if a.strip())


def _by_verp(rcpt_tos: Sequence[str], original_message_id: str) -> BounceAttribution | None:
    for rcpt in rcpt_tos[:RCPT_LOOKUP_LIMIT]:
        verp = verp_address_parse(rcpt)
        if verp is None:
            continue
        card = UserCard.objects.filter(code__iexact=verp.card_code).first()
        if card is None:
            continue
        # The quoted Message-ID counts only when the signed address was made for it: a VERP of
        # card A must not let a bounce name card B's message.
        proven = original_message_id if verp.names_message(original_message_id) else ""
        return BounceAttribution(card=card, by=Attribution.VERP, message_id=proven)
    return None


def _by_message_id(message_id: str, recipients: frozenset[str]) -> BounceAttribution | None:
    variants = message_id_variants(message_id)
    if not variants or not recipients:
        return None
    owners: dict[int, UserCard] = {}
    matched: set[str] = set()
    to_any = Q()
    for address in recipients:
        to_any |= Q(recipient__iexact=address)
    rows = OutgoingMail.objects.filter(
        to_any, message_id__in=variants, status__in=SENT_STATUSES
    ).select_related("job__owner")
    for row in rows[:RECIPIENT_LOOKUP_LIMIT]:
        owners[row.job.owner.pk] = row.job.owner
        matched.add(row.recipient.lower())
    # A send whose outcome is unknown may have reached its recipients (mailer.events).
    events = MailEvent.objects.filter(
        message_id__in=variants, kind=EventKind.SEND_UNKNOWN, card__isnull=False
    ).select_related("card")
    for event in events[:RECIPIENT_LOOKUP_LIMIT]:
        sent_to = _lowered(event.recipient.split(",")) & recipients
        if sent_to and event.card is not None:
            owners[event.card.pk] = event.card
            matched |= sent_to
    if len(owners) != 1:  # none, or a Message-ID shared by two cards' mail: trust neither
        return None
    (card,) = owners.values()
    return BounceAttribution(
        card=card,
        by=Attribution.MESSAGE_ID,
        message_id=variants[0],
        recipients=frozenset(matched),
    )


def bounce_attribute(
    *, rcpt_tos: Sequence[str], original_message_id: str, recipients: Iterable[str] = ()
) -> BounceAttribution:
    """Return whose mail a received message is about, by VERP or by a sent Message-ID."""
    reported = _lowered(list(recipients)[:RECIPIENT_LOOKUP_LIMIT])
    return (
        _by_verp(rcpt_tos, original_message_id)
        or _by_message_id(original_message_id, reported)
        or UNATTRIBUTED
    )


def outgoing_mail_mark_bounced(
    *,
    card: UserCard,
    message_id: str,
    recipient: str,
    cause: str = "",
    user_message: str = "",
    smtp_code: int | None = None,
) -> int:
    """Mark the card's sent message to this recipient bounced; return how many rows changed."""
    variants = message_id_variants(message_id)
    if not variants or not recipient:
        return 0
    values: dict[str, object] = {"status": MailStatus.BOUNCED}
    extra = {"cause": cause[:64], "user_message": user_message, "smtp_code": smtp_code}
    values.update({key: value for key, value in extra.items() if value not in ("", None)})
    return OutgoingMail.objects.filter(
        job__owner=card,
        message_id__in=variants,
        recipient__iexact=recipient,
        status__in=BOUNCEABLE_STATUSES,
    ).update(**values)
