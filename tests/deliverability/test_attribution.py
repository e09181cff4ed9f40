"""Forged bounces: only a signed VERP address or a sent Message-ID ties a bounce to a card."""

from __future__ import annotations

import email
import json
import smtplib
from io import StringIO

import pytest
from django.core.management import call_command

from deliverability.models import Attribution, InboundMessage
from events.models import EventKind, MailEvent
from mailer.verp import verp_address_make, verp_address_parse
from massmail.models import MassMailJob, OutgoingMail
from tests.deliverability import bounces
from tests.factories import InvoiceFactory, UserCardFactory, system_settings_set
from users.models import MailSender

# The receiver stores from its own thread: the rows must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)

MAILBOX = "acme-trading@event.data.directo.ee"
CARD_A_ID = "<a.1@seller-a.test>"
CARD_B_ID = "<b.1@seller-b.test>"


def deliver(controller, raw: bytes, *, rcpt: str = MAILBOX) -> None:
    with smtplib.SMTP(controller.hostname, controller.port, timeout=10) as client:
        client.sendmail("", [rcpt], raw)


@pytest.fixture
def card_a():
    """Card A (KIVI), a Directo-Reply-To sender of company Acme Trading."""
    system_settings_set(company_name="Acme Trading")
    return UserCardFactory(
        code="KIVI", email="kivi@seller.test", mail_sender=MailSender.DIRECTO_REPLY_TO
    )


@pytest.fixture
def card_b():
    """Card B (MARI), another sender."""
    return UserCardFactory(code="MARI", email="mari@seller.test")


def sent_row(card, *, message_id: str, status: str = "sent") -> OutgoingMail:
    """Create the card's mass-mail message to ghost@customer.test in the given state."""
    job = MassMailJob.objects.create(
        owner=card, document_kind="invoice", subject_template="s", body_template="b"
    )
    return OutgoingMail.objects.create(
        job=job, document_id=InvoiceFactory(owner=card).pk, recipient="ghost@customer.test",
        status=status, message_id=message_id,
    )  # fmt: skip


def dsn_about(message_id: str, *, reply_to: str = "kivi@seller.test") -> bytes:
    """Return a DSN about ghost@customer.test quoting the given original Message-ID."""
    original = bounces.original_message(
        message_id=message_id, from_="kivi@seller.test", reply_to=reply_to
    )
    return bounces.rfc3464(original=original)


def test_bounce_attribution_quoted_from_and_reply_to_put_no_event(event_mailbox, card_a):
    """A DSN quoting card A's From/Reply-To, with no VERP or sent Message-ID, is unattributed."""
    row = sent_row(card_a, message_id=CARD_A_ID)
    deliver(event_mailbox, dsn_about("<forged.1@seller.test>"))
    assert not MailEvent.objects.exists()
    stored = InboundMessage.objects.get()
    assert stored.card is None
    assert stored.attribution == Attribution.NONE
    row.refresh_from_db()
    assert row.status == "sent"


def test_bounce_attribution_verp_with_bad_tag_is_unattributed(event_mailbox, card_a):
    """A VERP address of card A with a changed tag attributes nothing and marks nothing."""
    row = sent_row(card_a, message_id=CARD_A_ID)
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=CARD_A_ID)
    local, _, domain = address.partition("@")
    forged = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    assert verp_address_parse(forged) is None
    deliver(event_mailbox, bounces.QMAIL_TEXT.split(b"--- Below")[0], rcpt=forged)
    assert not MailEvent.objects.exists()
    assert InboundMessage.objects.get().attribution == Attribution.NONE
    row.refresh_from_db()
    assert row.status == "sent"


@pytest.mark.parametrize("verp_made_for", [CARD_A_ID, CARD_B_ID])
def test_bounce_attribution_verp_of_card_a_cannot_bounce_card_b_row(
    event_mailbox, card_a, card_b, verp_made_for
):
    """A DSN to card A's VERP naming card B's Message-ID leaves B's row and B's card alone."""
    row_b = sent_row(card_b, message_id=CARD_B_ID)
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=verp_made_for)
    deliver(event_mailbox, dsn_about(CARD_B_ID, reply_to="mari@seller.test"), rcpt=address)
    row_b.refresh_from_db()
    assert row_b.status == "sent"
    assert not MailEvent.objects.filter(card=card_b).exists()
    # The signed address is card A's own word: the bounce is A's, about no message of B's.
    event = MailEvent.objects.get(kind=EventKind.BOUNCE)
    assert event.card == card_a
    assert event.message_id == ("" if verp_made_for == CARD_A_ID else CARD_B_ID)


def test_bounce_attribution_verp_marks_only_that_cards_sent_row(event_mailbox, card_a):
    """A DSN to card A's VERP quoting A's message marks A's sent row bounced."""
    row = sent_row(card_a, message_id=CARD_A_ID)
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=CARD_A_ID)
    deliver(event_mailbox, dsn_about(CARD_A_ID), rcpt=address)
    row.refresh_from_db()
    assert row.status == "bounced"
    assert row.cause == "recipient_unknown"
    assert MailEvent.objects.get(kind=EventKind.BOUNCE).message_id == CARD_A_ID


@pytest.mark.parametrize("by", ["verp", "message_id"])
def test_bounce_attribution_failed_row_never_becomes_bounced(event_mailbox, card_a, by):
    """A `failed` row stays `failed`, whether the DSN comes by VERP or by its Message-ID."""
    row = sent_row(card_a, message_id=CARD_A_ID, status="failed")
    rcpt = MAILBOX
    if by == "verp":
        rcpt = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=CARD_A_ID)
    deliver(event_mailbox, dsn_about(CARD_A_ID), rcpt=rcpt)
    row.refresh_from_db()
    assert row.status == "failed"
    if by == "message_id":  # a failed row is no message the product sent
        assert not MailEvent.objects.exists()


def test_bounce_attribution_unknown_row_becomes_bounced_by_message_id(event_mailbox, card_a):
    """An `unknown` row (maybe sent) becomes `bounced` when a DSN names it and its recipient."""
    row = sent_row(card_a, message_id=CARD_A_ID, status="unknown")
    deliver(event_mailbox, dsn_about(CARD_A_ID))
    row.refresh_from_db()
    assert row.status == "bounced"
    assert MailEvent.objects.get(kind=EventKind.BOUNCE).card == card_a


def test_bounce_attribution_message_id_holds_only_for_its_recipient(event_mailbox, card_a):
    """A DSN naming A's Message-ID but another recipient puts no event and marks nothing."""
    row = sent_row(card_a, message_id=CARD_A_ID)
    original = bounces.original_message(message_id=CARD_A_ID, to="other@customer.test")
    deliver(event_mailbox, bounces.rfc3464(original=original, recipient="other@customer.test"))
    assert not MailEvent.objects.exists()
    row.refresh_from_db()
    assert row.status == "sent"


def test_sendtestmail_directo_reply_to_verp_sender_and_its_bounce_attributed(
    smtp_server, settings, event_mailbox, card_a
):
    """A real Directo-Reply-To send carries a signed VERP sender; a DSN to it lands on the card."""
    relay = smtp_server(tls="no")
    settings.PLATFORM_RELAY_URL = f"smtp://{relay.address}:25"
    call_command("sendtestmail", "KIVI", "--to", "ghost@customer.test", stdout=StringIO())
    [delivery] = relay.sink.deliveries
    original = email.message_from_bytes(delivery.content)
    message_id = original["Message-ID"]
    assert delivery.mail_from.startswith("acme-trading+kivi.")
    assert delivery.mail_from.endswith("@event.data.directo.ee")
    verp = verp_address_parse(delivery.mail_from)
    assert verp is not None
    assert verp.card_code == "kivi"
    assert verp.names_message(message_id)
    assert original["From"] == MAILBOX
    assert original["Reply-To"] == "kivi@seller.test"

    # The receiving server bounces it to the envelope sender: the event mailbox.
    quoted = delivery.content.decode().replace("\r\n", "\n").replace("\n", "\r\n")
    deliver(event_mailbox, bounces.rfc3464(original=quoted), rcpt=delivery.mail_from)
    event = MailEvent.objects.get(kind=EventKind.BOUNCE)
    assert event.card == card_a
    assert event.message_id == message_id
    assert event.recipient == "ghost@customer.test"


def test_mail_settings_json_shows_plain_event_mailbox_envelope_from(card_a):
    """`mail_settings --json` keeps the plain event mailbox as envelope_from (the contract)."""
    out = StringIO()
    call_command("mail_settings", "KIVI", "--json", stdout=out)
    assert json.loads(out.getvalue())["envelope_from"] == MAILBOX


def test_inbound_message_admin_shows_attribution_and_card(admin_client, card_a):
    """The admin lists received mail with its attribution and card, filterable by attribution."""
    InboundMessage.objects.create(kind="bounce", raw=b"x", card=card_a, attribution="verp")
    InboundMessage.objects.create(kind="inbound", raw=b"y", subject="Unattributed note")
    url = "/admin/deliverability/inboundmessage/"
    response = admin_client.get(url, {"attribution__exact": "verp"})
    assert response.status_code == 200
    assert "Signed bounce address (VERP)" in response.text
    assert "KIVI" in response.text
    assert "Unattributed note" not in response.text
