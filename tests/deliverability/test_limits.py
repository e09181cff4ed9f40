"""The event mailbox's limits: connections and messages per client, size, retention, caps."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import timezone

from deliverability.limits import MailboxLimits, mailbox_limits_get
from deliverability.models import Attribution, InboundKind, InboundMessage
from deliverability.receiver import EventMailboxController
from deliverability.tasks import PURGE_TASK, inbound_mail_purge
from events.models import EventKind, MailEvent
from mailer.verp import verp_address_make
from tests.deliverability import bounces
from tests.factories import UserCardFactory
from tests.smtp_servers import loopback_address

MAILBOX = "acme-trading@event.data.directo.ee"
LIMITS = MailboxLimits(connections_per_client=2, messages_per_minute=3, max_message_size=100_000)


def client(controller: EventMailboxController, source: str) -> smtplib.SMTP:
    """Connect to the receiver from the given loopback address."""
    return smtplib.SMTP(
        controller.hostname, controller.port, timeout=10, source_address=(source, 0)
    )


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.timeout(30)
def test_event_mailbox_refuses_connection_over_per_client_cap_with_421(event_mailbox_start):
    """A client past its simultaneous connections gets 421; others and later ones get in."""
    controller = event_mailbox_start(limits=LIMITS)
    source, other = loopback_address(), loopback_address()
    first, second = client(controller, source), client(controller, source)
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        client(controller, source)
    assert refused.value.smtp_code == 421
    assert b"Too many connections" in refused.value.smtp_error
    with client(controller, other) as elsewhere:  # another address is not held back
        assert elsewhere.noop()[0] == 250
    first.quit()
    wait_until(lambda: controller.throttle.connections(source) < 2)
    with client(controller, source) as again:
        assert again.noop()[0] == 250
    second.quit()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(30)
def test_event_mailbox_refuses_messages_over_per_minute_rate_with_451(event_mailbox_start):
    """A client past its messages per minute gets 451 at MAIL FROM; another address does not."""
    controller = event_mailbox_start(limits=LIMITS)
    source, other = loopback_address(), loopback_address()
    with client(controller, source) as smtp:
        for _ in range(LIMITS.messages_per_minute):
            smtp.sendmail("", [MAILBOX], bounces.PLAIN_REPLY)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("", [MAILBOX], bounces.PLAIN_REPLY)
        assert refused.value.smtp_code == 451
        assert b"Too many messages" in refused.value.smtp_error
        assert smtp.noop()[0] == 250
    with client(controller, other) as elsewhere:
        elsewhere.sendmail("", [MAILBOX], bounces.PLAIN_REPLY)
    assert InboundMessage.objects.count() == LIMITS.messages_per_minute + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(30)
def test_event_mailbox_rate_counts_messages_of_parallel_connections(event_mailbox_start):
    """Messages begun on parallel connections are counted when they complete: 451 at DATA."""
    controller = event_mailbox_start(limits=replace(LIMITS, messages_per_minute=1))
    source = loopback_address()
    first, second = client(controller, source), client(controller, source)
    for smtp in (first, second):  # both pass MAIL FROM before either message is complete
        smtp.ehlo()
        assert smtp.mail("")[0] == 250
        assert smtp.rcpt(MAILBOX)[0] == 250
    assert first.data(bounces.PLAIN_REPLY)[0] == 250
    assert second.data(bounces.PLAIN_REPLY)[0] == 451
    first.quit()
    second.quit()
    assert InboundMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(30)
def test_event_mailbox_size_limit_from_settings_is_advertised_and_enforced(
    event_mailbox_start, settings
):
    """EVENT_MAILBOX_MAX_MESSAGE_SIZE is the EHLO SIZE; a larger message gets 552 at DATA."""
    settings.EVENT_MAILBOX_MAX_MESSAGE_SIZE = 100_000
    controller = event_mailbox_start()
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 120
    with client(controller, loopback_address()) as smtp:
        smtp.ehlo()
        assert smtp.esmtp_features["size"] == "100000"
        with pytest.raises(smtplib.SMTPSenderRefused) as declared:
            smtp.sendmail("", [MAILBOX], big)  # SIZE= declared: refused at MAIL FROM
        assert declared.value.smtp_code == 552
        smtp.rset()
        smtp.mail("")
        smtp.rcpt(MAILBOX)
        assert smtp.data(big)[0] == 552  # undeclared: refused as it arrives
        smtp.sendmail("", [MAILBOX], bounces.PLAIN_REPLY)
    assert InboundMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EVENT_MAILBOX_CONNECTIONS_PER_CLIENT", 0),
        ("EVENT_MAILBOX_MESSAGES_PER_MINUTE", -1),
        ("EVENT_MAILBOX_MAX_MESSAGE_SIZE", "big"),
    ],
)
def test_mailbox_limits_get_names_invalid_setting(settings, name, value):
    """A limit that is not a positive whole number is refused, naming the variable."""
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        mailbox_limits_get()


def stored(*, days_ago: float, attribution: str = Attribution.NONE, card=None) -> InboundMessage:
    """Store one received message as if it arrived `days_ago` days ago."""
    row = InboundMessage.objects.create(
        kind=InboundKind.INBOUND, raw=b"x", attribution=attribution, card=card
    )
    received = timezone.now() - timedelta(days=days_ago)
    InboundMessage.objects.filter(pk=row.pk).update(received_at=received)
    return row


@pytest.mark.django_db
def test_purge_inbound_mail_deletes_mail_older_than_days_and_keeps_events():
    """`purge_inbound_mail --days 30` deletes older mail; newer mail and card events stay."""
    card = UserCardFactory(code="KIVI")
    old = stored(days_ago=31, attribution=Attribution.VERP, card=card)
    event = MailEvent.objects.create(card=card, user_code="KIVI", kind=EventKind.BOUNCE)
    old.events.add(event)
    recent = stored(days_ago=29)
    out = StringIO()
    call_command("purge_inbound_mail", "--days", "30", stdout=out)
    assert list(InboundMessage.objects.all()) == [recent]
    assert MailEvent.objects.filter(pk=event.pk).exists()
    assert "Deleted 1 received message(s) older than 30 day(s)." in out.getvalue()


@pytest.mark.django_db
def test_purge_inbound_mail_defaults_to_retention_setting(settings):
    """Without --days the command keeps EVENT_MAILBOX_RETENTION_DAYS (90 by default) of mail."""
    assert django_settings.EVENT_MAILBOX_RETENTION_DAYS == 90
    kept, gone = stored(days_ago=89), stored(days_ago=91)
    call_command("purge_inbound_mail", stdout=StringIO())
    assert InboundMessage.objects.filter(pk=kept.pk).exists()
    assert not InboundMessage.objects.filter(pk=gone.pk).exists()
    settings.EVENT_MAILBOX_RETENTION_DAYS = 10
    call_command("purge_inbound_mail", stdout=StringIO())
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_inbound_mail_purge_task_runs_on_the_beat_schedule(settings):
    """Celery beat runs the purge task, which applies the retention setting."""
    from directo_mail.celery import app

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == PURGE_TASK]
    assert len(entries) == 1
    assert 0 < entries[0]["schedule"] <= 24 * 3600
    app.loader.import_default_modules()
    assert PURGE_TASK in app.tasks
    settings.EVENT_MAILBOX_RETENTION_DAYS = 5
    stored(days_ago=6)
    kept = stored(days_ago=4)
    assert inbound_mail_purge.apply().get() == 1
    assert list(InboundMessage.objects.all()) == [kept]


def test_event_mailbox_settings_come_from_environment():
    """EVENT_MAILBOX_* limits and retention are read from the environment (directo_mail.env)."""
    env = {
        **os.environ,
        "EVENT_MAILBOX_RETENTION_DAYS": "30",
        "EVENT_MAILBOX_UNATTRIBUTED_LIMIT": "7",
        "EVENT_MAILBOX_CONNECTIONS_PER_CLIENT": "4",
        "EVENT_MAILBOX_MESSAGES_PER_MINUTE": "5",
        "EVENT_MAILBOX_MAX_MESSAGE_SIZE": "6000",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EVENT_MAILBOX_RETENTION_DAYS, s.EVENT_MAILBOX_UNATTRIBUTED_LIMIT, "
        "s.EVENT_MAILBOX_CONNECTIONS_PER_CLIENT, s.EVENT_MAILBOX_MESSAGES_PER_MINUTE, "
        "s.EVENT_MAILBOX_MAX_MESSAGE_SIZE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "directo_mail.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["30", "7", "4", "5", "6000"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_event_mailbox_keeps_at_most_unattributed_limit(event_mailbox, settings):
    """Past EVENT_MAILBOX_UNATTRIBUTED_LIMIT, the oldest unattributed mail is dropped."""
    settings.EVENT_MAILBOX_UNATTRIBUTED_LIMIT = 3
    card = UserCardFactory(code="KIVI")
    verp = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=bounces.ORIGINAL_ID)
    with smtplib.SMTP(event_mailbox.hostname, event_mailbox.port, timeout=10) as smtp:
        smtp.sendmail("", [verp], bounces.rfc3464())  # attributed: never dropped by the cap
        for number in range(5):
            reply = bounces.PLAIN_REPLY.replace(b"Re: Invoice 1001", f"Note {number}".encode())
            smtp.sendmail("", [MAILBOX], reply)
    unattributed = InboundMessage.objects.filter(attribution=Attribution.NONE)
    assert sorted(unattributed.values_list("subject", flat=True)) == ["Note 2", "Note 3", "Note 4"]
    assert InboundMessage.objects.get(attribution=Attribution.VERP).card == card
