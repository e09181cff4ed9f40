"""End to end with real Celery workers, Redis, PostgreSQL and local SMTP servers."""

from __future__ import annotations

import collections
import email
import email.policy
import time
from typing import Any

import pytest

from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from tests.massmail.conftest import PASSWORD, fast_limits, server_card, worker_overrides

pytestmark = [pytest.mark.celery, pytest.mark.timeout(90)]
#: The kill -9 test's MAILER_TRANSMIT_GROUP: at most this many `unknown` per pool process.
KILL_GROUP = 5


def _wait_for(job: MassMailJob, workers: Any, timeout: float = 60) -> MassMailJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (JobStatus.FINISHED, JobStatus.CANCELLED, JobStatus.PAUSED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.pk} is still {job.status}\n{workers.log_tail()}")


def _message_ids(server: Any) -> list[str]:
    return [
        email.message_from_bytes(d.content, policy=email.policy.default)["Message-ID"]
        for d in server.sink.deliveries
    ]


def test_worker_delivers_every_invoice_once_with_pdf(workers, mass_settings, mass_server):
    """Every invoice arrives once with its PDF; a 451 is retried, a 550 fails without retry."""
    server = mass_server(tls="starttls", users={"kivi@acme.test": PASSWORD})
    card = server_card(server, mail_as_attachment="pdf")
    invoices = invoice_demo_create(owner_card=card, count=12, seed=3)
    refused = invoices[4].customer_email
    server.sink.rcpt_replies[refused] = "550 5.1.1 Recipient address rejected"
    server.sink.plan["DATA"] = ["451 4.7.1 Greylisted, try again later"]
    workers.start(concurrency=2, overrides=worker_overrides(mass_settings))
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])

    job = _wait_for(job, workers)
    assert job.status == JobStatus.FINISHED
    rows = {row.message_id: row for row in OutgoingMail.objects.filter(job=job)}
    delivered = collections.Counter(_message_ids(server))
    assert set(delivered.values()) == {1}
    assert len(delivered) == 11
    failed = OutgoingMail.objects.get(job=job, recipient=refused)
    assert failed.status == MailStatus.FAILED and failed.attempts == 1
    assert failed.message_id not in delivered
    assert [c.verb for c in server.sink.commands].count("RCPT") == 11 + 1 + 1  # 451: again
    retried = [row for row in rows.values() if row.attempts == 2]
    assert len(retried) == 1 and retried[0].status == MailStatus.SENT
    for delivery in server.sink.deliveries:
        parsed = email.message_from_bytes(delivery.content, policy=email.policy.default)
        [pdf] = list(parsed.iter_attachments())
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_content().startswith(b"%PDF")
        assert rows[parsed["Message-ID"]].status == MailStatus.SENT
    assert (job.sent_count, job.failed_count, job.unknown_count) == (11, 1, 0)


def test_worker_kill_loses_nothing_and_sends_nothing_twice(workers, mass_settings, mass_server):
    """kill -9 mid-job, a new worker: every row counted once, no duplicate delivery, and at
    most one transmit group per pool process `unknown` (the bound in the README's Outages)."""
    mass_settings.MAILER_PROVIDER_LIMITS = fast_limits(rates=[[15, 1]])
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD}, data_delay=0.05)
    card = server_card(server)
    invoices = invoice_demo_create(owner_card=card, count=60, seed=5)
    overrides = worker_overrides(mass_settings, MAILER_TRANSMIT_GROUP=KILL_GROUP)
    first = workers.start(concurrency=2, overrides=overrides)
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])

    deadline = time.monotonic() + 30
    while len(server.sink.deliveries) < 12:
        assert time.monotonic() < deadline, workers.log_tail()
        time.sleep(0.02)
    workers.kill(first)
    at_kill = dict(
        collections.Counter(OutgoingMail.objects.filter(job=job).values_list("status", flat=True))
    )
    assert at_kill.get(MailStatus.SENT, 0) < 60
    assert at_kill.get(MailStatus.TRANSMITTING, 0) <= 2 * KILL_GROUP
    workers.start(concurrency=2, beat=True, overrides=overrides)

    job = _wait_for(job, workers)
    assert job.status == JobStatus.FINISHED
    rows = {row.message_id: row for row in OutgoingMail.objects.filter(job=job)}
    counts = collections.Counter(row.status for row in rows.values())
    assert counts[MailStatus.SENT] + counts[MailStatus.FAILED] + counts[MailStatus.UNKNOWN] == 60
    delivered = collections.Counter(_message_ids(server))
    twice = {message_id for message_id, n in delivered.items() if n > 1}
    assert all(rows[message_id].status == MailStatus.UNKNOWN for message_id in twice)
    for message_id, row in rows.items():
        if row.status == MailStatus.SENT:
            assert delivered[message_id] == 1
    assert counts[MailStatus.FAILED] == 0
    assert counts[MailStatus.UNKNOWN] <= 2 * KILL_GROUP  # concurrency 2
    print(f"\nKILL -9: {counts[MailStatus.UNKNOWN]} unknown (bound {2 * KILL_GROUP})")


def test_worker_kill_of_a_rate_limited_mailbox_leaves_at_most_a_second_of_messages_unknown(
    workers, mass_settings, mass_server
):
    """kill -9 while a mailbox allowed 10 a second sends (3 connections, groups of 10 set):
    at most its per-second allowance is in flight or `unknown`, never a whole group each."""
    mass_settings.MAILER_PROVIDER_LIMITS = fast_limits(connections=3, rates=[[1, 0.1]])
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    invoices = invoice_demo_create(owner_card=card, count=40, seed=6)
    overrides = worker_overrides(mass_settings, MAILER_TRANSMIT_GROUP=10)
    first = workers.start(concurrency=2, overrides=overrides)
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])

    deadline = time.monotonic() + 30
    while len(server.sink.deliveries) < 12:
        assert time.monotonic() < deadline, workers.log_tail()
        time.sleep(0.02)
    workers.kill(first)
    at_kill = collections.Counter(
        OutgoingMail.objects.filter(job=job).values_list("status", flat=True)
    )
    assert at_kill[MailStatus.SENT] < 40
    assert at_kill[MailStatus.TRANSMITTING] <= 10
    workers.start(concurrency=2, beat=True, overrides=overrides)

    job = _wait_for(job, workers)
    counts = collections.Counter(
        OutgoingMail.objects.filter(job=job).values_list("status", flat=True)
    )
    assert counts[MailStatus.SENT] + counts[MailStatus.UNKNOWN] == 40
    assert counts[MailStatus.UNKNOWN] <= 10
    print(f"\nKILL -9 (10/s): {counts[MailStatus.UNKNOWN]} unknown (bound 10)")


def test_workers_never_exceed_three_connections(workers, mass_settings, mass_server):
    """Two workers of concurrency 2 share one mailbox's 3 connections: no 421 4.3.2 answer."""
    mass_settings.MAILER_DISPATCH_PARALLELISM = 4
    mass_settings.MAILER_BATCH_SIZE = 5
    server = mass_server(
        tls="no", users={"kivi@acme.test": PASSWORD}, max_connections=3, data_delay=0.03
    )
    card = server_card(server)
    invoices = invoice_demo_create(owner_card=card, count=60, seed=9)
    workers.start(concurrency=2, overrides=worker_overrides(mass_settings))
    workers.start(concurrency=2, overrides=worker_overrides(mass_settings))
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])

    job = _wait_for(job, workers)
    assert job.status == JobStatus.FINISHED and job.sent_count == 60
    assert server.sink.rejected == 0
    assert 2 <= server.sink.peak <= 3
    assert len(set(_message_ids(server))) == 60


def test_worker_beat_runs_as_its_own_process_ticks_and_dies_with_the_worker(workers, mass_settings):
    """Beat is a `celery beat` beside the worker (not `-B`), sends the tick, and a kill -9 of
    the worker takes it along."""
    worker = workers.start(concurrency=1, beat=True, overrides=worker_overrides(mass_settings))
    assert "-B" not in worker.command()
    beat = worker.beat_process
    assert beat is not None and beat.poll() is None
    deadline = time.monotonic() + 20
    while "Sending due task massmail-tick" not in worker.log_tail(20_000):
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.1)
    workers.kill(worker)
    assert beat.poll() is not None
