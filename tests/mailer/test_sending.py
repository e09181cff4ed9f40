"""Sending through a card's resolved settings: sendtestmail, the Django backend, events."""

from __future__ import annotations

import email
import email.policy
import json
from io import StringIO

import pytest
from django.core.mail import EmailMessage, send_mail
from django.core.management import CommandError, call_command

from events.models import MailEvent
from mailer.exceptions import MailDeliveryError
from tests.factories import SERVER_CARD_PASSWORD as PASSWORD
from tests.factories import UserCardFactory, server_card, system_settings_set

pytestmark = pytest.mark.django_db


def _parsed(delivery):
    return email.message_from_bytes(delivery.content, policy=email.policy.default)


@pytest.mark.parametrize("tls", ["no", "starttls", "ssl"])
def test_sendtestmail_delivers_through_each_tls_option(smtp_server, tls):
    """sendtestmail delivers one message with the card's From and AUTH over each TLS option."""
    server = smtp_server(tls=tls, users={"kivi@acme.test": PASSWORD}, by_address=True)
    server_card(server)
    out = StringIO()
    call_command("sendtestmail", "kivi", "--to", "customer@example.test", stdout=out)
    [delivery] = server.sink.deliveries
    assert delivery.mail_from == "kivi@acme.test"
    assert delivery.rcpt_tos == ("customer@example.test",)
    assert delivery.login == "kivi@acme.test"
    assert delivery.tls == (tls != "no")
    assert _parsed(delivery)["From"] == "kivi@acme.test"
    assert "accepted the test e-mail" in out.getvalue()
    assert PASSWORD not in out.getvalue()
    steps = [line.split()[1] for line in out.getvalue().splitlines() if line[:3] in ("ok ", "ERR")]
    assert steps[-3:] == ["MAIL", "RCPT", "DATA"]


def test_sendtestmail_inherits_global_card(smtp_server):
    """A Directo user sends through the global card's server and credential pair."""
    server = smtp_server(tls="ssl", users={"mailer@acme.test": "global-pw"}, by_address=True)
    server_card(
        server,
        code="MAILER",
        email="mailer@acme.test",
        smtp_username="mailer@acme.test",
        smtp_password="global-pw",
    )
    system_settings_set(mail_sending_user_code="MAILER", company_name="Acme Trading")
    UserCardFactory(code="MARI", email="mari@acme.test")
    call_command("sendtestmail", "MARI", "--to", "c@example.test", stdout=StringIO())
    [delivery] = server.sink.deliveries
    assert delivery.login == "mailer@acme.test"
    assert delivery.mail_from == "mari@acme.test"
    assert _parsed(delivery)["From"] == "mari@acme.test"


def test_sendtestmail_directo_reply_to_addresses_through_relay(smtp_server, settings):
    """Directo-Reply-To: the relay sees the event mailbox as From and signed VERP bounce address."""
    relay = smtp_server(tls="no")
    settings.PLATFORM_RELAY_URL = f"smtp://{relay.address}:25"
    system_settings_set(company_name="Acme Trading")
    UserCardFactory(code="REPLY", email="reply@acme.test", mail_sender="directo_reply_to")
    call_command("sendtestmail", "REPLY", "--to", "c@example.test", stdout=StringIO())
    [delivery] = relay.sink.deliveries
    parsed = _parsed(delivery)
    # The bounce address is the event mailbox, signed per message (mailer.verp).
    assert delivery.mail_from.startswith("acme-trading+reply.")
    assert delivery.mail_from.endswith("@event.data.directo.ee")
    assert parsed["From"] == "acme-trading@event.data.directo.ee"
    assert parsed["Reply-To"] == "reply@acme.test"
    assert delivery.login is None


def test_sendtestmail_directo_mode_sends_from_user_through_relay(smtp_server, settings):
    """Directo mode with no global card: the platform relay, From the user's address."""
    relay = smtp_server(tls="no")
    settings.PLATFORM_RELAY_URL = f"smtp://{relay.address}:25"
    UserCardFactory(code="DIR", email="dir@acme.test")
    call_command("sendtestmail", "DIR", "--to", "c@example.test", stdout=StringIO())
    [delivery] = relay.sink.deliveries
    assert delivery.mail_from == "dir@acme.test"
    assert _parsed(delivery)["Reply-To"] is None


def test_sendtestmail_dry_run_sends_nothing(smtp_server):
    """--dry-run stops after RCPT with RSET: a transcript, and no message delivered."""
    server = smtp_server(tls="starttls", users={"kivi@acme.test": PASSWORD}, by_address=True)
    server_card(server)
    out = StringIO()
    call_command(
        "sendtestmail", "KIVI", "--to", "c@example.test", "--dry-run", "--json", stdout=out
    )
    document = json.loads(out.getvalue())
    assert document["ok"] is True
    assert [step["step"] for step in document["transcript"]][-3:] == ["MAIL", "RCPT", "RSET"]
    assert server.sink.deliveries == []
    assert "RSET" in server.sink.verbs()
    assert PASSWORD not in out.getvalue()


def test_sendtestmail_auth_failure_is_explained_and_recorded(smtp_server):
    """A rejected password exits non-zero with the explained cause and leaves an event."""
    server = smtp_server(tls="starttls", users={"kivi@acme.test": "other"}, by_address=True)
    server_card(server)
    with pytest.raises(CommandError) as excinfo:
        call_command("sendtestmail", "KIVI", "--to", "c@example.test", stdout=StringIO())
    assert PASSWORD not in str(excinfo.value)
    [event] = MailEvent.objects.filter(user_code="KIVI")
    assert event.kind == "send_failed" and event.cause.startswith("auth")
    assert event.recipient == "c@example.test"
    assert PASSWORD not in event.message + event.smtp_reply
    assert server.sink.deliveries == []


def test_sendtestmail_refuses_internal_hosts(smtp_server, settings):
    """Without MAILER_ALLOW_PRIVATE_HOSTS a card's loopback server is refused unconnected."""
    server = smtp_server(tls="no", by_address=True)
    server_card(server, smtp_username="", smtp_password="")
    settings.MAILER_ALLOW_PRIVATE_HOSTS = False
    with pytest.raises(CommandError, match="MAILER_ALLOW_PRIVATE_HOSTS"):
        call_command("sendtestmail", "KIVI", "--to", "c@example.test", stdout=StringIO())
    assert server.sink.connections == 0
    assert MailEvent.objects.get(user_code="KIVI").cause == "host_not_allowed"


def test_sendtestmail_incomplete_settings_send_nothing(smtp_server):
    """An SMTP card with no server anywhere is refused with what is missing."""
    UserCardFactory(code="NOSRV", email="n@acme.test", mail_sender="smtp")
    with pytest.raises(CommandError, match="mail_server"):
        call_command("sendtestmail", "NOSRV", "--to", "c@example.test", stdout=StringIO())
    assert MailEvent.objects.get(user_code="NOSRV").cause == "settings_incomplete"


def test_sendtestmail_is_rate_limited_per_user(smtp_server):
    """The sixth test e-mail in a minute is refused before connecting."""
    server = smtp_server(tls="no", by_address=True)
    server_card(server, smtp_username="", smtp_password="")
    for _ in range(5):
        call_command(
            "sendtestmail", "KIVI", "--to", "c@example.test", "--dry-run", stdout=StringIO()
        )
    connections = server.sink.connections
    with pytest.raises(CommandError, match="test e-mails a minute"):
        call_command("sendtestmail", "KIVI", "--to", "c@example.test", stdout=StringIO())
    assert server.sink.connections == connections


def test_sendtestmail_unknown_code_fails():
    """An unknown card code exits non-zero naming the code."""
    with pytest.raises(CommandError, match="NOBODY"):
        call_command("sendtestmail", "NOBODY", "--to", "c@example.test", stdout=StringIO())


@pytest.fixture
def usercard_mailer(settings):
    """Restore the real "usercard" mailer (Django's test setup swaps every mailer for locmem)."""
    settings.MAILERS = settings.MAILERS | {
        "usercard": {"BACKEND": "mailer.backends.UserCardEmailBackend"}
    }


def test_usercard_backend_sends_django_mail_as_the_user(smtp_server, usercard_mailer):
    """send_mail(using="usercard") goes out through the From user's own server, one session."""
    server = smtp_server(tls="starttls", users={"kivi@acme.test": PASSWORD}, by_address=True)
    server_card(server)
    sent = send_mail("Hello", "Body", "kivi@acme.test", ["a@example.test"], using="usercard")
    message = EmailMessage(
        "Two", "Body", "ignored@x.test", ["b@example.test"], headers={"X-Directo-User": "KIVI"}
    )
    message.send(using="usercard")
    assert sent == 1
    assert [d.rcpt_tos for d in server.sink.deliveries] == [
        ("a@example.test",),
        ("b@example.test",),
    ]
    second = _parsed(server.sink.deliveries[1])
    assert second["From"] == "kivi@acme.test"
    assert second["X-Directo-User"] is None


def test_usercard_backend_refuses_unknown_sender(usercard_mailer):
    """A message from an address no card has is refused with an explained error."""
    with pytest.raises(MailDeliveryError, match="X-Directo-User"):
        send_mail("Hello", "Body", "nobody@acme.test", ["a@example.test"], using="usercard")
