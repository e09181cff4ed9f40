"""Sharing the pool between jobs: a run hands its process back, a rate wait is queued, not slept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from massmail import limits, stores
from massmail.conf import massmail_settings
from massmail.dispatch import Dispatcher, Outcome
from massmail.limits import SenderLimiter
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from massmail.queueing import massmail_dispatch_enqueue, massmail_dispatch_started
from massmail.stores import FRESH_KEY, WAITING_KEY, LocalLimitStore, job_registry_key, limit_store
from massmail.tasks import massmail_tick
from tests.massmail.conftest import PASSWORD, fast_limits, server_card

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_run_per_job(mass_settings):
    """A job's first run queues no other (only the last test counts those): no run waits."""
    mass_settings.MAILER_DISPATCH_PARALLELISM = 1


def _job(card, count):
    invoices = invoice_demo_create(owner_card=card, count=count, seed=11)
    return invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])


def _statuses(job):
    return sorted(OutgoingMail.objects.filter(job=job).values_list("status", flat=True))


def test_dispatch_hands_back_its_process_when_a_new_job_waits(mass_settings, mass_server):
    """Another job's first run waits: this run sends one message, puts the rest back, ends."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=5)
    limit_store().waiting_note(FRESH_KEY, "another-job", 0, 60)

    assert Dispatcher(job_id=job.pk).run() == Outcome.SLICE
    assert len(server.sink.deliveries) == 1
    assert _statuses(job) == [MailStatus.QUEUED] * 4 + [MailStatus.SENT]


def test_dispatch_keeps_its_process_while_nothing_waits(mass_settings, mass_server):
    """No other task waits (a continuing one not yet due): the run sends the whole job."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=5)
    limit_store().waiting_note(WAITING_KEY, "later", 60, 60)

    assert Dispatcher(job_id=job.pk).run() == Outcome.FINISHED
    assert len(server.sink.deliveries) == 5


def test_dispatch_rate_wait_ends_the_run_instead_of_sleeping(mass_settings, mass_server):
    """Two per 3 s: the third message's wait is no moment; the run ends with the countdown."""
    mass_settings.MAILER_PROVIDER_LIMITS = fast_limits(rates=[[2, 3]])
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=4)
    dispatcher = Dispatcher(job_id=job.pk)

    assert dispatcher.run() == Outcome.RATE_WAIT
    assert massmail_settings().slice / 2 < dispatcher.resume_in <= 3.15
    assert len(server.sink.deliveries) == 2
    assert _statuses(job) == [MailStatus.QUEUED] * 2 + [MailStatus.SENT] * 2


def test_tick_counts_queued_runs_and_wakes_no_more(mass_settings, mass_server):
    """Runs queued for a job count as its runs: the tick queues none; once started, it does."""
    mass_settings.CELERY_TASK_ALWAYS_EAGER = False
    mass_settings.MAILER_DISPATCH_PARALLELISM = 2
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=3)
    MassMailJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    store = limit_store()
    store.client.delete(job_registry_key(job.pk))
    sent = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "celery.app.task.Task.apply_async",
            lambda self, args=None, kwargs=None, task_id=None, **options: sent.append(task_id),
        )
        assert massmail_dispatch_enqueue(job_id=job.pk, count=2)
        assert store.slot_count(job_registry_key(job.pk)) == 2
        assert massmail_tick()["woken"] == 0
        for token in sent:
            massmail_dispatch_started(job_id=job.pk, token=token)
        assert store.slot_count(job_registry_key(job.pk)) == 0
        assert massmail_tick()["woken"] == 1
    assert len(sent) == 4


def test_limiter_grants_against_a_slightly_longer_window(settings, monkeypatch):
    """30 per 3 s: the 31st message waits 3 s plus the margin after the first, not 3 s."""
    settings.MAILER_PROVIDER_LIMITS = [
        {"name": "m365", "hosts": ["smtp.office365.com"], "rates": [[30, 3]], "connections": 3}
    ]
    clock = [1000.0]
    monkeypatch.setattr(stores.time, "monotonic", lambda: clock[0])
    limiter = SenderLimiter(
        host="smtp.office365.com", mailbox="kivi@acme.test", store=LocalLimitStore()
    )
    assert [limiter.rate_wait() for _ in range(30)] == [0.0] * 30
    clock[0] += 3.0
    assert limiter.rate_wait() == pytest.approx(3 * limits.RATE_WINDOW_MARGIN)
    clock[0] += 3 * limits.RATE_WINDOW_MARGIN
    assert limiter.rate_wait() == 0.0


def test_first_run_queues_the_jobs_other_runs_behind(mass_settings, mass_server):
    """A job starts with one run; once it has work it queues the rest, as continuing runs."""
    mass_settings.MAILER_DISPATCH_PARALLELISM = 2
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=3)
    store = limit_store()
    queued = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "celery.app.task.Task.apply_async",
            lambda self, args=None, kwargs=None, task_id=None, **options: queued.append(task_id),
        )
        assert Dispatcher(job_id=job.pk).run() == Outcome.FINISHED
    assert len(queued) == 1
    assert store.waiting_due(WAITING_KEY, 60) == len(queued)
    assert store.waiting_due(FRESH_KEY, 60) == 0


def test_first_run_queues_no_run_beyond_the_mailboxs_connections(mass_settings, mass_server):
    """One connection allowed (Zone): a second run could only wait for it, so none is queued."""
    mass_settings.MAILER_DISPATCH_PARALLELISM = 2
    mass_settings.MAILER_PROVIDER_LIMITS = fast_limits(connections=1)
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=3)
    queued = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "celery.app.task.Task.apply_async",
            lambda self, args=None, kwargs=None, task_id=None, **options: queued.append(task_id),
        )
        assert Dispatcher(job_id=job.pk).run() == Outcome.FINISHED
    assert queued == []


def test_dispatch_retry_due_soon_ends_the_run_instead_of_sleeping(mass_settings, mass_server):
    """Only a retry due in 2 s is left: the run ends with its countdown; the row stays due."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=1)
    MassMailJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    OutgoingMail.objects.filter(job=job).update(
        status=MailStatus.RETRY, next_attempt_at=timezone.now() + timedelta(seconds=2)
    )
    dispatcher = Dispatcher(job_id=job.pk)

    assert dispatcher.run() == Outcome.RATE_WAIT
    assert massmail_settings().slice / 2 < dispatcher.resume_in <= 2
    assert server.sink.deliveries == []
    assert _statuses(job) == [MailStatus.RETRY]


def test_dispatch_hands_back_after_a_slice_of_messages(mass_settings, mass_server):
    """A slice of 3 messages (and a minute): another run waits, so the run ends after 3."""
    mass_settings.MAILER_DISPATCH_SLICE_MESSAGES = 3
    mass_settings.MAILER_DISPATCH_SLICE_SECONDS = 60
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    job = _job(server_card(server), count=6)
    limit_store().waiting_note(WAITING_KEY, "another-run", 0, 60)

    assert Dispatcher(job_id=job.pk).run() == Outcome.SLICE
    assert len(server.sink.deliveries) == 3
    assert _statuses(job) == [MailStatus.QUEUED] * 3 + [MailStatus.SENT] * 3
