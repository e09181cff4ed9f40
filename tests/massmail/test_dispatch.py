"""Dispatching in this process against local servers: outcomes, retries, pauses, the reaper."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import invoices.documents as invoice_documents
from events.models import EventKind, MailEvent
from invoices.mailing import invoices_mass_mail_start
from invoices.models import StoredDocument
from invoices.pdf import invoice_pdf_render
from invoices.services import invoice_demo_create
from massmail.dispatch import (
    Dispatcher,
    Outcome,
    massmail_claim,
    massmail_dispatch_run,
    massmail_inline_run,
)
from massmail.jobs import massmail_job_cancel
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from massmail.reaper import massmail_reap
from tests.massmail.conftest import PASSWORD, fast_limits, server_card

pytestmark = pytest.mark.django_db


def _job(card, count=5, **kwargs):
    invoices = invoice_demo_create(owner_card=card, count=count, seed=7)
    return invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices], **kwargs)


def _statuses(job):
    return sorted(OutgoingMail.objects.filter(job=job).values_list("status", flat=True))


def test_dispatch_delivers_each_invoice_once_with_pdf(mass_settings, mass_server):
    """Each invoice goes out once over one connection, with its PDF and its stored Message-ID."""
    server = mass_server(tls="starttls", users={"kivi@acme.test": PASSWORD})
    card = server_card(server, mail_as_attachment="pdf")
    job = _job(card, count=6)
    assert massmail_inline_run(job_id=job.pk, timeout=30) == Outcome.FINISHED
    job.refresh_from_db()
    assert job.status == JobStatus.FINISHED and job.sent_count == 6
    assert server.sink.connections == 1
    rows = {row.message_id: row for row in OutgoingMail.objects.filter(job=job)}
    assert len(server.sink.deliveries) == 6
    for delivery in server.sink.deliveries:
        parsed = email.message_from_bytes(delivery.content, policy=email.policy.default)
        row = rows.pop(parsed["Message-ID"])
        assert delivery.rcpt_tos == (row.recipient,)
        [pdf] = [part for part in parsed.iter_attachments()]
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_content().startswith(b"%PDF")
        assert row.status == MailStatus.SENT and row.attempts == 1
    assert rows == {}


def test_dispatch_uses_fewer_than_one_statement_per_message(mass_settings, mass_server):
    """40 messages in groups of 10: one "transmitting" and one "sent" write per group."""
    mass_settings.MAILER_BATCH_SIZE = 20
    mass_settings.MAILER_TRANSMIT_GROUP = 10
    mass_settings.MAILER_DISPATCH_PARALLELISM = 1  # one run sends it all: no run queued
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    job = _job(card, count=40)
    with CaptureQueriesContext(connection) as queries:
        assert massmail_dispatch_run(job_id=job.pk) == Outcome.FINISHED
    assert len(server.sink.deliveries) == 40
    assert _statuses(job) == [MailStatus.SENT] * 40
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    marks = [sql for sql in updates if "SET \"status\" = 'transmitting'" in sql]
    sent = [sql for sql in updates if "SET \"status\" = 'sent'" in sql]
    assert len(marks) == 4 and len(sent) == 4
    # Per group of 10 its two writes, per batch of 20 the claim and the documents' three
    # lookups, per run about sixteen (reap, job, settings, finish): under one per message.
    assert len(queries.captured_queries) <= 40 // 10 * 2 + 40 // 20 * 4 + 16 < 40


def _sent_before_each_message(dispatcher, job):
    """Spy on the run: the job's `sent` rows in the database as each message starts."""
    seen: list[int] = []
    original = dispatcher._send_one

    def counting(row, document):
        seen.append(OutgoingMail.objects.filter(job=job, status=MailStatus.SENT).count())
        return original(row, document)

    dispatcher._send_one = counting
    return seen


def _ids_per_write(queries, status):
    """How many rows each captured UPDATE to `status` named."""
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE") and f"SET \"status\" = '{status}'" in q["sql"]
    ]
    return [len(re.search(r'"id" IN \(([^)]*)\)', sql).group(1).split(",")) for sql in writes]


def test_dispatch_rate_limited_marks_each_message_sent_before_the_next(mass_settings, mass_server):
    """5 a second over 3 connections: groups of one, each marked `sent` before the next goes."""
    mass_settings.MAILER_PROVIDER_LIMITS = fast_limits(connections=3, rates=[[1, 0.2]])
    mass_settings.MAILER_DISPATCH_PARALLELISM = 1
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=5)
    dispatcher = Dispatcher(job_id=job.pk)
    seen = _sent_before_each_message(dispatcher, job)
    with CaptureQueriesContext(connection) as queries:
        assert dispatcher.run() == Outcome.FINISHED
    assert len(server.sink.deliveries) == 5
    assert seen == [0, 1, 2, 3, 4]
    assert _ids_per_write(queries, "transmitting") == [1] * 5
    assert _ids_per_write(queries, "sent") == [1] * 5


def test_dispatch_group_size_follows_the_mailbox_rate(mass_settings, mass_server):
    """10 a second over 2 connections: rows marked and marked `sent` 5 at a time, not 10."""
    mass_settings.MAILER_PROVIDER_LIMITS = fast_limits(connections=2, rates=[[20, 2]])
    mass_settings.MAILER_TRANSMIT_GROUP = 10
    mass_settings.MAILER_DISPATCH_PARALLELISM = 1
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=10)
    with CaptureQueriesContext(connection) as queries:
        assert massmail_dispatch_run(job_id=job.pk) == Outcome.FINISHED
    assert _statuses(job) == [MailStatus.SENT] * 10
    assert _ids_per_write(queries, "transmitting") == [5, 5]
    assert _ids_per_write(queries, "sent") == [5, 5]


def test_dispatch_slow_group_marks_sent_before_its_end(mass_settings, mass_server):
    """A slow server (0.3 s a message), a group of 10: delivered rows are marked within ~1 s,
    not only when the whole group is done."""
    mass_settings.MAILER_TRANSMIT_GROUP = 10
    mass_settings.MAILER_DISPATCH_PARALLELISM = 1
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD}, data_delay=0.3)
    job = _job(server_card(server), count=6)
    dispatcher = Dispatcher(job_id=job.pk)
    seen = _sent_before_each_message(dispatcher, job)
    with CaptureQueriesContext(connection) as queries:
        assert dispatcher.run() == Outcome.FINISHED
    assert _statuses(job) == [MailStatus.SENT] * 6
    assert seen[0] == 0 and seen[-1] > 0  # marked while the group was still going
    assert sum(_ids_per_write(queries, "sent")) == 6
    assert _ids_per_write(queries, "transmitting") == [6]


def test_dispatch_retries_transient_451_and_delivers(mass_settings, mass_server):
    """A 451 at DATA schedules a retry with backoff; the next attempt is delivered."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    server.sink.plan["DATA"] = ["451 4.3.0 Temporary local problem, try again"]
    card = server_card(server)
    job = _job(card, count=2)
    assert massmail_inline_run(job_id=job.pk, timeout=30) == Outcome.FINISHED
    rows = list(OutgoingMail.objects.filter(job=job).order_by("id"))
    assert [row.status for row in rows] == [MailStatus.SENT, MailStatus.SENT]
    assert rows[0].attempts == 2 and rows[1].attempts == 1
    assert len(server.sink.deliveries) == 2


def test_dispatch_fails_550_without_retry(mass_settings, mass_server):
    """A 550 for a recipient fails that invoice at once (one RCPT); the others are sent."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    job = _job(card, count=3)
    bad = OutgoingMail.objects.filter(job=job).order_by("id").first()
    server.sink.rcpt_replies[bad.recipient] = "550 5.1.1 No such user here"
    assert massmail_inline_run(job_id=job.pk, timeout=30) == Outcome.FINISHED
    bad.refresh_from_db()
    assert bad.status == MailStatus.FAILED and bad.attempts == 1
    assert bad.cause == "recipient_refused" and bad.smtp_code == 550
    assert "No such user" in bad.user_message
    assert _statuses(job).count(MailStatus.SENT) == 2
    assert MailEvent.objects.filter(card=card, recipient=bad.recipient).count() == 1


def test_dispatch_auth_rejected_pauses_job_and_records_event(mass_settings, mass_server):
    """A rejected password pauses the job with the explanation; the rows stay queued."""
    server = mass_server(tls="no", users={"kivi@acme.test": "another-password"})
    card = server_card(server)
    job = _job(card, count=3)
    assert massmail_dispatch_run(job_id=job.pk) == Outcome.PAUSED
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED
    assert "rejected the username or password" in job.status_reason
    # Kept as its cause, so the job page reads it in the owner's language, not the worker's.
    assert job.status_cause == "auth_rejected" and job.status_params
    assert _statuses(job) == [MailStatus.QUEUED] * 3
    event = MailEvent.objects.get(card=card)
    assert event.kind == EventKind.SEND_FAILED and event.cause == "auth_rejected"


def test_dispatch_quota_answer_pauses_sender(mass_settings, mass_server):
    """A 5.2.0 quota answer pauses the mailbox: the row waits for the window, the run stops."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    server.sink.plan["DATA"] = [
        "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"
    ]
    card = server_card(server)
    job = _job(card, count=3)
    assert massmail_dispatch_run(job_id=job.pk) == Outcome.SENDER_PAUSED
    first = OutgoingMail.objects.filter(job=job).order_by("id").first()
    assert first.status == MailStatus.RETRY and first.cause == "quota_exceeded"
    assert first.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert _statuses(job).count(MailStatus.QUEUED) == 2
    job.refresh_from_db()
    assert job.resume_at is not None and job.status == JobStatus.RUNNING
    assert job.status_cause == "quota_exceeded"
    # Another run finds the mailbox paused and sends nothing.
    assert massmail_dispatch_run(job_id=job.pk) == Outcome.SENDER_PAUSED
    assert server.sink.deliveries == []


def test_dispatch_invalid_address_fails_alone(mass_settings, mass_server):
    """An invoice without a usable customer address fails with its recipient cause; others go."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    invoices = invoice_demo_create(owner_card=card, count=3, seed=1)
    invoices[1].customer_email = "not an address"
    invoices[1].save()
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])
    assert massmail_inline_run(job_id=job.pk, timeout=30) == Outcome.FINISHED
    bad = OutgoingMail.objects.get(job=job, document_id=invoices[1].pk)
    assert bad.status == MailStatus.FAILED and bad.cause == "recipient_several"  # a space
    assert len(server.sink.deliveries) == 2


def test_reaper_requeues_claimed_and_reports_transmitting_unknown(mass_settings, mass_server):
    """Expired leases: claimed rows are queued again, transmitting rows become unknown."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=4)
    MassMailJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    claimed = massmail_claim(job_id=job.pk, worker="dead", limit=4, lease=60)
    assert len(claimed) == 4
    past = timezone.now() - timedelta(seconds=1)
    OutgoingMail.objects.filter(pk=claimed[0].id).update(
        status=MailStatus.TRANSMITTING, lease_until=past
    )
    OutgoingMail.objects.filter(pk=claimed[1].id).update(lease_until=past)
    result = massmail_reap()
    assert (result.requeued, result.unknown) == (1, 1)
    assert OutgoingMail.objects.get(pk=claimed[0].id).status == MailStatus.UNKNOWN
    assert OutgoingMail.objects.get(pk=claimed[1].id).status == MailStatus.QUEUED
    assert OutgoingMail.objects.get(pk=claimed[2].id).status == MailStatus.CLAIMED
    assert MailEvent.objects.filter(kind=EventKind.SEND_UNKNOWN).count() == 1


def test_dispatch_skips_row_whose_lease_was_lost(mass_settings, mass_server):
    """A row reclaimed by another worker before its group is marked is not transmitted."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=2)
    MassMailJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    dispatcher = Dispatcher(job_id=job.pk)
    original = dispatcher.rows.claim

    def claim_then_lose(*, limit):
        rows = original(limit=limit)
        OutgoingMail.objects.filter(pk__in=[row.id for row in rows]).update(
            claimed_by="other-worker"
        )
        return rows

    dispatcher.rows.claim = claim_then_lose
    dispatcher.run()
    assert server.sink.deliveries == []
    assert _statuses(job) == [MailStatus.CLAIMED] * 2


def test_claim_returns_disjoint_batches(mass_settings, mass_server):
    """Successive claims never return the same row, and nothing once every row is claimed."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=4)
    MassMailJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    first = massmail_claim(job_id=job.pk, worker="a", limit=2, lease=60)
    second = massmail_claim(job_id=job.pk, worker="b", limit=5, lease=60)
    assert len(first) == 2 and len(second) == 2
    assert not {row.id for row in first} & {row.id for row in second}
    assert massmail_claim(job_id=job.pk, worker="c", limit=5, lease=60) == []


def test_dispatch_pdf_invoices_stay_within_statement_budget_and_reuse_documents(
    mass_settings, mass_server, monkeypatch
):
    """PDF invoices: one document lookup per batch, and a second job renders no PDF again."""
    mass_settings.MAILER_BATCH_SIZE = 20
    mass_settings.MAILER_DISPATCH_PARALLELISM = 1  # one run sends it all: no run queued
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server, mail_as_attachment="pdf")
    job = _job(card, count=40)
    with CaptureQueriesContext(connection) as queries:
        assert massmail_dispatch_run(job_id=job.pk) == Outcome.FINISHED
    assert len(server.sink.deliveries) == 40
    # The budget of the test above, plus the batch's lookup and the INSERT of its new PDFs.
    assert len(queries.captured_queries) <= min(3 * 40, 2 * 40 + 25 + 2 * 2)
    stored = [q for q in queries.captured_queries if "invoices_storeddocument" in q["sql"]]
    assert len(stored) == 2 * 2  # per batch of 20: one SELECT, one INSERT of the new PDFs
    assert StoredDocument.objects.count() == 40

    def pdf_of(delivery):
        parsed = email.message_from_bytes(delivery.content, policy=email.policy.default)
        [part] = list(parsed.iter_attachments())
        return part.get_filename(), part.get_content()

    first = dict(pdf_of(delivery) for delivery in server.sink.deliveries)
    renders: list[str] = []

    def spy(*, invoice, **kwargs):
        renders.append(invoice.number)
        return invoice_pdf_render(invoice=invoice, **kwargs)

    monkeypatch.setattr(invoice_documents, "invoice_pdf_render", spy)
    ids = list(OutgoingMail.objects.filter(job=job).values_list("document_id", flat=True))
    again = invoices_mass_mail_start(card=card, invoice_ids=ids)
    with CaptureQueriesContext(connection) as queries:
        assert massmail_dispatch_run(job_id=again.pk) == Outcome.FINISHED
    assert renders == []
    assert len(server.sink.deliveries) == 80
    # Every PDF is stored already: one lookup per batch and nothing else.
    assert len(queries.captured_queries) <= min(3 * 40, 2 * 40 + 25 + 2)
    assert [q for q in queries.captured_queries if q["sql"].startswith("INSERT")] == []
    second = dict(pdf_of(delivery) for delivery in server.sink.deliveries[40:])
    assert second == first
    assert StoredDocument.objects.count() == 40


def test_dispatch_cancel_mid_group_fails_the_rows_not_sent(mass_settings, mass_server, monkeypatch):
    """A cancel while a group is in hand: its unsent rows fail as cancelled, none stays queued."""
    monkeypatch.setattr("massmail.jobstate.JOB_CHECK_EVERY", 0.0)
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=5)
    dispatcher = Dispatcher(job_id=job.pk)
    original = dispatcher._send_one

    def send_then_cancel(row, document):
        outcome = original(row, document)
        massmail_job_cancel(job=MassMailJob.objects.get(pk=job.pk))
        return outcome

    dispatcher._send_one = send_then_cancel
    assert dispatcher.run() == Outcome.STOPPED
    assert _statuses(job) == [MailStatus.FAILED] * 4 + [MailStatus.SENT]
    job.refresh_from_db()
    assert (job.status, job.sent_count, job.failed_count) == (JobStatus.CANCELLED, 1, 4)


def test_dispatch_refused_settings_pause_keeps_the_cause(mass_settings, mass_server):
    """A job whose owner can no longer mass-mail pauses with the refusal's cause, not its text."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    job = _job(card, count=2)
    card.mail_sender = "directo"
    card.save()
    assert massmail_dispatch_run(job_id=job.pk) == Outcome.PAUSED
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED and job.status_cause == "mass_mail_not_allowed"
    assert job.status_params["code"] == card.code
