"""What the event mailbox received: each cause code of a bounce, a delay or other inbound mail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, gettext_noop

from events.errors import ErrorCause, Param

# A bounce is often explained only by the receiving server's own text: a sentence of its own,
# translated when rendered and appended after the cause's sentences.
_SAID = gettext_noop("The receiving server said: “{diagnostic}”.")


class DeliverabilityCause(ErrorCause):
    """Why mail came back to the event mailbox, and what it means for the sender.

    Parameters: `recipient`, `status` (the DSN status, such as 5.1.1) and `diagnostic` (the
    receiving server's text) of a bounce or delay; `sender` and `subject` of other inbound mail.
    `said` is made from `diagnostic` when rendered.
    """

    # Bounces (a failed DSN), by the status code and diagnostic (services.bounce_cause).
    RECIPIENT_UNKNOWN = (
        "recipient_unknown",
        gettext_noop(
            "Mail to {recipient} bounced: the address does not exist at the receiving server; "
            "check the customer's e-mail address.{said}"
        ),
    )
    DOMAIN_UNKNOWN = (
        "domain_unknown",
        gettext_noop(
            "Mail to {recipient} bounced: the recipient's domain does not receive mail; check the "
            "part after the @.{said}"
        ),
    )
    MAILBOX_FULL = (
        "mailbox_full",
        gettext_noop(
            "Mail to {recipient} bounced: the recipient's mailbox is full; try again later or "
            "reach them another way.{said}"
        ),
    )
    MAILBOX_UNAVAILABLE = (
        "mailbox_unavailable",
        gettext_noop(
            "Mail to {recipient} bounced: the recipient's mailbox is disabled or unavailable.{said}"
        ),
    )
    REJECTED_AUTHENTICATION = (
        "rejected_authentication",
        gettext_noop(
            "Mail to {recipient} bounced: the receiving server did not trust the sender's domain "
            "(SPF, DKIM or DMARC failed); see the DNS diagnostics on your card, or send with "
            "Directo-Reply-To.{said}"
        ),
    )
    REJECTED_POLICY = (
        "rejected_policy",
        gettext_noop(
            "Mail to {recipient} bounced: the receiving server refused the message by its policy "
            "(spam filter or block list).{said}"
        ),
    )
    MESSAGE_TOO_BIG = (
        "message_too_big",
        gettext_noop(
            "Mail to {recipient} bounced: the message is larger than the receiving server "
            "accepts.{said}"
        ),
    )
    ROUTING_FAILED = (
        "routing_failed",
        gettext_noop(
            "Mail to {recipient} bounced: the receiving server could not be reached or routed the "
            "message nowhere.{said}"
        ),
    )
    BOUNCED = (
        "bounced",
        gettext_noop(
            "Mail to {recipient} bounced: the receiving server refused the message.{said}"
        ),
    )
    # A delayed DSN: the sending server is still trying.
    DELIVERY_DELAYED = (
        "delivery_delayed",
        gettext_noop(
            "Delivery to {recipient} is delayed; the sending server keeps trying and reports again "
            "if it gives up.{said}"
        ),
    )
    # Other mail to the event mailbox, attributed to a card.
    INBOUND_MAIL = (
        "inbound_mail",
        gettext_noop("Mail from {sender} to the event mailbox “{subject}”."),
    )
    UNPARSABLE_MAIL = (
        "unparsable_mail",
        gettext_noop(
            "Mail from {sender} to the event mailbox could not be read (stored as received)."
        ),
    )

    def context(self, params: Mapping[str, Param]) -> dict[str, Any]:
        context = super().context(params)
        diagnostic = params.get("diagnostic")
        context["said"] = " " + gettext(_SAID).format(diagnostic=diagnostic) if diagnostic else ""
        return context
