"""The event mailbox over real SMTP: bounces become events on the sender's card; bad input."""

from __future__ import annotations

import email
import os
import smtplib
import time

import pytest

from deliverability import receiver
from deliverability.models import Attribution, InboundKind, InboundMessage
from deliverability.receiver import MESSAGE_SIZE_LIMIT
from events.models import EventKind, MailEvent
from mailer.messages import message_build, message_envelope
from mailer.services import sender_config_get
from mailer.verp import verp_address_make
from massmail.models import MassMailJob, OutgoingMail
from tests.deliverability import bounces
from tests.factories import InvoiceFactory, UserCardFactory, system_settings_set
from users.models import MailSender

# The receiver stores from its own thread: the rows must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)

MAILBOX = "acme-trading@event.data.directo.ee"


def smtp(controller) -> smtplib.SMTP:
    return smtplib.SMTP(controller.hostname, controller.port, timeout=10)


def deliver(controller, raw: bytes, *, rcpt: str = MAILBOX, sender: str = "") -> None:
    with smtp(controller) as client:
        client.sendmail(sender, [rcpt], raw)


@pytest.fixture
def reply_to_card():
    """A Directo-Reply-To card of company Acme Trading."""
    system_settings_set(company_name="Acme Trading")
    return UserCardFactory(
        code="KIVI", email="kivi@seller.test", mail_sender=MailSender.DIRECTO_REPLY_TO
    )


def directo_reply_to_message(card) -> tuple[str, bytes]:
    """Build a real Directo-Reply-To message of the card: its envelope sender and bytes."""
    config = sender_config_get(card=card)
    assert config.envelope_from == MAILBOX
    message = message_build(
        config=config, to=["ghost@customer.test"], subject="Invoice 1001", body="Invoice."
    )
    envelope_from, _recipients, raw = message_envelope(message, config)
    return envelope_from, raw


def message_id_of(raw: bytes) -> str:
    return email.message_from_bytes(raw)["Message-ID"]


def test_event_mailbox_dsn_of_directo_reply_to_message_is_bounce_on_sender_card(
    event_mailbox, reply_to_card
):
    """A DSN to a Directo-Reply-To message's VERP sender becomes a bounce on the sender's card."""
    verp, original = directo_reply_to_message(reply_to_card)
    message_id = message_id_of(original)
    deliver(event_mailbox, bounces.rfc3464(original=original.decode()), rcpt=verp)

    event = MailEvent.objects.get(kind=EventKind.BOUNCE)
    assert event.card == reply_to_card
    assert event.user_code == "KIVI"
    assert event.message_id == message_id
    assert event.recipient == "ghost@customer.test"
    assert event.cause == "recipient_unknown"
    assert bounces.DIAGNOSTIC in event.message
    assert event.smtp_code == 550
    stored = InboundMessage.objects.get()
    assert stored.kind == InboundKind.BOUNCE
    assert stored.envelope_from == ""
    assert stored.envelope_to == verp
    assert stored.card == reply_to_card
    assert stored.attribution == Attribution.VERP
    assert list(stored.events.all()) == [event]


def test_event_mailbox_matches_bounce_by_message_id_sent_to_that_recipient(event_mailbox):
    """A DSN naming a Message-ID the product sent to that very recipient lands on the sender."""
    mari = UserCardFactory(code="MARI", email="mari@seller.test")
    MailEvent.objects.create(
        card=mari,
        user_code="MARI",
        kind=EventKind.SEND_UNKNOWN,
        cause="outcome_unknown",
        recipient="someone@customer.test, ghost@customer.test",
        message_id=bounces.ORIGINAL_ID,
    )
    original = bounces.original_message(reply_to="someone@elsewhere.test", from_="x@y.test")
    deliver(event_mailbox, bounces.rfc3464(original=original, headers_only=True))
    event = MailEvent.objects.get(kind=EventKind.BOUNCE)
    assert event.card == mari
    assert InboundMessage.objects.get().attribution == Attribution.MESSAGE_ID


def test_event_mailbox_message_id_sent_to_another_recipient_is_unattributed(event_mailbox):
    """A known Message-ID does not attribute a DSN about a recipient it was not sent to."""
    mari = UserCardFactory(code="MARI", email="mari@seller.test")
    MailEvent.objects.create(
        card=mari,
        user_code="MARI",
        kind=EventKind.SEND_UNKNOWN,
        cause="outcome_unknown",
        recipient="someone@customer.test",
        message_id=bounces.ORIGINAL_ID,
    )
    deliver(event_mailbox, bounces.rfc3464(headers_only=True))
    assert not MailEvent.objects.filter(kind=EventKind.BOUNCE).exists()
    assert InboundMessage.objects.get().card is None


def test_event_mailbox_matches_bounce_by_verp_recipient(event_mailbox, reply_to_card):
    """A bounce to the card's VERP address lands on that card even without the original."""
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=bounces.ORIGINAL_ID)
    deliver(event_mailbox, bounces.QMAIL_TEXT.split(b"--- Below")[0], rcpt=address)
    event = MailEvent.objects.get(kind=EventKind.BOUNCE)
    assert event.card == reply_to_card
    assert event.cause == "mailbox_full"
    assert event.message_id == ""  # the bounce quotes no Message-ID the address was made for


def outgoing_mail_create(
    card, *, message_id: str = bounces.ORIGINAL_ID, status: str = "sent"
) -> OutgoingMail:
    """Create a mass-mail message of the card to ghost@customer.test."""
    job = MassMailJob.objects.create(
        owner=card, document_kind="invoice", subject_template="s", body_template="b"
    )
    return OutgoingMail.objects.create(
        job=job, document_id=InvoiceFactory(owner=card).pk, recipient="ghost@customer.test",
        status=status, message_id=message_id,
    )  # fmt: skip


def test_event_mailbox_marks_outgoing_mail_bounced_and_matches_job_owner(event_mailbox):
    """A bounce marks the mass-mail row with its Message-ID bounced, on the job owner's card."""
    owner = UserCardFactory(code="OWNER", email="owner@seller.test")
    mail = outgoing_mail_create(owner)
    original = bounces.original_message(reply_to="nobody@elsewhere.test", from_="x@y.test")
    deliver(event_mailbox, bounces.rfc3464(original=original, headers_only=True))
    mail.refresh_from_db()
    assert mail.status == "bounced"
    assert mail.cause == "recipient_unknown"
    assert MailEvent.objects.get(kind=EventKind.BOUNCE).card == owner


def test_event_mailbox_keeps_ordinary_mail_unattributed_without_event(event_mailbox, reply_to_card):
    """A reply that is not a bounce is stored as unattributed mail and puts no event anywhere."""
    deliver(event_mailbox, bounces.PLAIN_REPLY, sender="buyer@customer.test")
    assert not MailEvent.objects.exists()
    stored = InboundMessage.objects.get()
    assert stored.kind == InboundKind.INBOUND
    assert stored.subject == "Re: Invoice 1001"
    assert stored.card is None
    assert stored.attribution == Attribution.NONE


def test_event_mailbox_auto_reply_to_verp_is_inbound_event_on_card(event_mailbox, reply_to_card):
    """Other mail to a card's VERP address (an auto-reply) is an inbound event on that card."""
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=bounces.ORIGINAL_ID)
    deliver(event_mailbox, bounces.PLAIN_REPLY, rcpt=address, sender="buyer@customer.test")
    event = MailEvent.objects.get()
    assert event.card == reply_to_card
    assert event.kind == EventKind.INBOUND
    assert "Re: Invoice 1001" in event.message


def test_event_mailbox_refuses_other_domains(event_mailbox):
    """RCPT to an address outside the event domain is refused with 550."""
    with smtp(event_mailbox) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        client.sendmail("", ["someone@elsewhere.test"], bounces.PLAIN_REPLY)
    code, _reply = caught.value.recipients["someone@elsewhere.test"]
    assert code == 550
    assert InboundMessage.objects.count() == 0


def test_event_mailbox_refuses_huge_message_and_keeps_answering(event_mailbox):
    """More than 10 MB is refused with 552 (declared or not), and the next message is taken."""
    huge = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (MESSAGE_SIZE_LIMIT // 1000 + 50)
    with smtp(event_mailbox) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as declared:
            client.sendmail("", [MAILBOX], huge)  # SIZE= is declared: refused at MAIL FROM
        assert declared.value.smtp_code == 552
        client.rset()
        client.mail("")
        client.rcpt(MAILBOX)
        code, _reply = client.data(huge)  # undeclared: refused after DATA
        assert code == 552
        client.sendmail("", [MAILBOX], bounces.PLAIN_REPLY)
    assert InboundMessage.objects.count() == 1


def garbage() -> bytes:
    """Return random bytes in lines SMTP can carry (at most 998 bytes each)."""
    lines = [os.urandom(500).replace(b"\n", b"").replace(b"\r", b"") for _ in range(8)]
    return b"\r\n".join(lines) + b"\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(garbage(), id="garbage"),
        pytest.param(b"\x00\xff\xfe binary\r\n\x00\r\n", id="nul-bytes"),
        pytest.param(b"no headers at all, just text\r\n", id="missing-headers"),
        pytest.param(b"Subject: \xff\x00x\r\nFrom: \x00<>\r\n\r\nbody\r\n", id="bad-headers"),
        pytest.param(bounces.nested_mime(3000), id="deeply-nested-mime"),
    ],
)  # fmt: skip
def test_event_mailbox_stores_hostile_input_and_keeps_answering(event_mailbox, raw):
    """Garbage, NUL bytes, missing headers and deep MIME are stored; the server still answers."""
    with smtp(event_mailbox) as client:
        client.sendmail("", [MAILBOX], raw)
        assert client.noop()[0] == 250
    stored = InboundMessage.objects.get()
    assert stored.size == len(raw)
    assert bytes(stored.raw)
    assert stored.events.count() == 0  # unattributed: kept, but on no card


@pytest.mark.timeout(40)
@pytest.mark.parametrize(
    "build",
    [
        pytest.param(bounces.hostile_microsoft_blank_lines, id="microsoft-blank-lines"),
        pytest.param(bounces.hostile_exim_address_line, id="exim-a@a@a-line-in-base64"),
    ],
)
def test_event_mailbox_hostile_400kb_bounce_is_stored_within_seconds(event_mailbox, build):
    """A 400 KB bounce built to make the parser backtrack is answered 250 within seconds."""
    raw = build()
    assert len(raw) >= bounces.HOSTILE_SIZE
    started = time.monotonic()
    with smtp(event_mailbox) as client:
        client.sendmail("", [MAILBOX], raw)
        assert client.noop()[0] == 250
    assert time.monotonic() - started < 10
    assert InboundMessage.objects.get().size == len(raw)


def test_event_mailbox_storage_failure_answers_451_and_keeps_answering(event_mailbox, monkeypatch):
    """If storing fails, the sender is told to retry (451) and the receiver stays up."""

    def broken(**_kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(receiver, "inbound_message_receive", broken)
    with smtp(event_mailbox) as client:
        client.ehlo()
        client.mail("")
        client.rcpt(MAILBOX)
        code, reply = client.data(bounces.PLAIN_REPLY)
        assert code == 451
        assert b"database" not in reply
        assert client.noop()[0] == 250
