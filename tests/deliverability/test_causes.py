"""Deliverability causes (issue 11): bounce and inbound events store a cause and parameters."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from deliverability.advice import Advice
from deliverability.causes import DeliverabilityCause
from deliverability.services import bounce_cause, inbound_message_receive
from events.errors import cause_get, cause_render
from events.models import EventKind, MailEvent
from mailer.messages import message_build, message_envelope
from mailer.services import sender_config_get
from tests.deliverability import bounces
from tests.factories import UserCardFactory, system_settings_set
from users.models import MailSender

SAID = " The receiving server said: “550 5.1.1 User unknown”."
#: Today's texts, word for word: each cause with a recipient, a status and a diagnostic.
TEXTS = {
    "recipient_unknown": "Mail to a@customer.test bounced: the address does not exist at the "
    "receiving server; check the customer's e-mail address." + SAID,
    "domain_unknown": "Mail to a@customer.test bounced: the recipient's domain does not receive "
    "mail; check the part after the @." + SAID,
    "mailbox_full": "Mail to a@customer.test bounced: the recipient's mailbox is full; try again "
    "later or reach them another way." + SAID,
    "mailbox_unavailable": "Mail to a@customer.test bounced: the recipient's mailbox is disabled "
    "or unavailable." + SAID,
    "rejected_authentication": "Mail to a@customer.test bounced: the receiving server did not "
    "trust the sender's domain (SPF, DKIM or DMARC failed); see the DNS diagnostics on your card, "
    "or send with Directo-Reply-To." + SAID,
    "rejected_policy": "Mail to a@customer.test bounced: the receiving server refused the message "
    "by its policy (spam filter or block list)." + SAID,
    "message_too_big": "Mail to a@customer.test bounced: the message is larger than the receiving "
    "server accepts." + SAID,
    "routing_failed": "Mail to a@customer.test bounced: the receiving server could not be reached "
    "or routed the message nowhere." + SAID,
    "bounced": "Mail to a@customer.test bounced: the receiving server refused the message." + SAID,
    "delivery_delayed": "Delivery to a@customer.test is delayed; the sending server keeps trying "
    "and reports again if it gives up." + SAID,
    "inbound_mail": "Mail from x@sender.test to the event mailbox “Re: Invoice 1001”.",
    "unparsable_mail": "Mail from x@sender.test to the event mailbox could not be read (stored as "
    "received).",
}
PARAMS = {
    "recipient": "a@customer.test",
    "status": "5.1.1",
    "diagnostic": "550 5.1.1 User unknown",
    "sender": "x@sender.test",
    "subject": "Re: Invoice 1001",
}


def test_deliverability_cause_every_member_is_registered():
    """Every deliverability cause is registered from DeliverabilityConfig.ready()."""
    assert {cause_get(cause.value) for cause in DeliverabilityCause} == set(DeliverabilityCause)
    assert set(TEXTS) == {cause.value for cause in DeliverabilityCause}


@pytest.mark.parametrize("cause", list(DeliverabilityCause), ids=str)
def test_deliverability_cause_renders_todays_text_from_its_placeholders(cause):
    """Each cause renders today's text word for word, every placeholder filled from params."""
    text = cause_render(cause.value, PARAMS, fallback="FALLBACK")
    assert text == TEXTS[cause.value]
    assert "{" not in text and "}" not in text
    for name in cause.placeholders - {"said"}:
        assert PARAMS[name] in text


@pytest.mark.parametrize("cause", list(DeliverabilityCause), ids=str)
def test_deliverability_cause_without_diagnostic_leaves_out_what_the_server_said(cause):
    """Without a diagnostic the “The receiving server said” sentence is left out, nothing else."""
    text = cause.render(PARAMS | {"diagnostic": ""})
    assert text == TEXTS[cause.value].removesuffix(SAID)
    assert "said" not in text


def test_bounce_cause_returns_registered_causes_that_cover_every_bounce_text():
    """The cause of a failed delivery is a registered member; each bounce text can be chosen."""
    examples = [
        ("5.1.1", ""),
        ("5.1.2", ""),
        ("5.2.2", ""),
        ("5.2.1", ""),
        ("5.3.4", ""),
        ("5.4.4", ""),
        ("5.7.1", "550 5.7.1 spam"),
        ("5.7.26", "550 5.7.26 dmarc"),
        ("5.0.0", ""),
    ]
    causes = {bounce_cause(status, diagnostic) for status, diagnostic in examples}
    assert all(
        isinstance(cause, DeliverabilityCause) and cause_get(cause) is cause for cause in causes
    )
    assert {cause.value for cause in causes} == {
        code for code, text in TEXTS.items() if " bounced: " in text
    }


@pytest.mark.parametrize("advice", list(Advice), ids=str)
def test_advice_renders_every_placeholder(advice):
    """Every diagnostics sentence is complete and fills each named placeholder."""
    params = {name: f"<{name}>" for name in advice.placeholders}
    text = advice.render(params)
    assert "{" not in text and "}" not in text
    assert all(value in text for value in params.values())
    assert text.endswith(".")


# --- Events --------------------------------------------------------------------------------


@pytest.fixture
def reply_to_card():
    """A Directo-Reply-To card of company Acme Trading."""
    system_settings_set(company_name="Acme Trading")
    return UserCardFactory(
        code="KIVI", email="kivi@seller.test", mail_sender=MailSender.DIRECTO_REPLY_TO
    )


def verp_and_message(card) -> tuple[str, str]:
    """Return the VERP envelope sender and the text of a real message of the card."""
    config = sender_config_get(card=card)
    message = message_build(
        config=config, to=["ghost@customer.test"], subject="Invoice 1001", body="Invoice."
    )
    envelope_from, _recipients, raw = message_envelope(message, config)
    return envelope_from, raw.decode()


def bounce_receive(card, **dsn: str) -> MailEvent:
    verp, original = verp_and_message(card)
    inbound_message_receive(
        envelope_from="", rcpt_tos=[verp], raw=bounces.rfc3464(original=original, **dsn)
    )
    return MailEvent.objects.get()


def mail_events_json() -> list[dict]:
    out = StringIO()
    call_command("mail_events", "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_bounce_event_stores_cause_and_params_and_its_text_equals_the_message(reply_to_card):
    """A bounce event keeps its cause and parameters; the text made from them is the message."""
    event = bounce_receive(reply_to_card)
    event.refresh_from_db()
    assert event.kind == EventKind.BOUNCE and event.cause == "recipient_unknown"
    assert event.params == {
        "recipient": "ghost@customer.test",
        "status": "5.1.1",
        "diagnostic": bounces.DIAGNOSTIC,
    }
    assert event.text == event.message
    assert event.message == (
        "Mail to ghost@customer.test bounced: the address does not exist at the receiving server; "
        f"check the customer's e-mail address. The receiving server said: “{bounces.DIAGNOSTIC}”."
    )
    assert mail_events_json()[0]["message"] == event.message


@pytest.mark.django_db
def test_delay_event_stores_cause_and_params_and_its_text_equals_the_message(reply_to_card):
    """A delayed DSN is an inbound event with the delivery_delayed cause and its parameters."""
    event = bounce_receive(
        reply_to_card, action="delayed", status="4.4.1", diagnostic="451 4.4.1 try later"
    )
    assert (event.kind, event.cause) == (EventKind.INBOUND, "delivery_delayed")
    assert event.params["diagnostic"] == "451 4.4.1 try later"
    assert event.text == event.message
    assert event.message.startswith("Delivery to ghost@customer.test is delayed;")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "cause"),
    [
        (b"From: x@sender.test\r\nSubject: Re: Invoice 1001\r\n\r\nThanks.\r\n", "inbound_mail"),
        (b"\x00\xff not a message", "unparsable_mail"),
    ],
)
def test_inbound_mail_event_stores_cause_and_params(reply_to_card, raw, cause):
    """Other attributed mail to the event mailbox records its sender as a parameter."""
    verp, _original = verp_and_message(reply_to_card)
    inbound_message_receive(envelope_from="x@sender.test", rcpt_tos=[verp], raw=raw)
    event = MailEvent.objects.get()
    assert event.cause == cause
    assert event.params["sender"] == "x@sender.test"
    assert event.text == event.message
    assert event.message.startswith("Mail from x@sender.test to the event mailbox")


@pytest.mark.django_db
def test_bounce_event_text_is_made_when_shown(reply_to_card, monkeypatch):
    """A changed template changes the shown text of a stored event; its stored message stays."""
    event = bounce_receive(reply_to_card)
    recorded = event.message
    monkeypatch.setattr(
        DeliverabilityCause.RECIPIENT_UNKNOWN,
        "template",
        "{recipient} does not exist ({status}).{said}",
    )
    shown = MailEvent.objects.get(pk=event.pk)
    assert shown.message == recorded
    assert shown.text == (
        f"ghost@customer.test does not exist (5.1.1). The receiving server said: "
        f"“{bounces.DIAGNOSTIC}”."
    )
    assert mail_events_json()[0]["message"] == recorded


# --- Diagnostics -------------------------------------------------------------------------


@pytest.mark.django_db
def test_mail_diagnostics_json_recommendation_and_warning_keep_todays_text():
    """Sentences made from templates leave the `mail_diagnostics --json` texts unchanged."""
    UserCardFactory(code="KIVI", email="kivi@fail.test", mail_sender=MailSender.DIRECTO)
    out = StringIO()
    call_command("mail_diagnostics", "KIVI", "--json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["recommendation"] == (
        "The Directo mode will not pass SPF: the SPF record of fail.test rejects (-all) the "
        "platform's outbound servers. Choose Directo-Reply-To (it sends from the platform's event "
        "mailbox and puts your address in Reply-To), or ask the administrator of fail.test to "
        "publish this SPF record: v=spf1 ip4:198.51.100.7 ip4:192.0.2.10 ip4:192.0.2.11 "
        "ip6:2001:db8::25 -all."
    )
    assert document["warnings"] == [
        "fail.test has DMARC p=reject: mail sent in the Directo mode fails DMARC alignment (SPF "
        "does not pass for the platform's servers) and will be rejected by the receiving servers. "
        "Use Directo-Reply-To, or fix SPF as recommended."
    ]
