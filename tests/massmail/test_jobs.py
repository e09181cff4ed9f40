"""Creating and controlling jobs, the provider limits in Redis, the start-up check."""

from __future__ import annotations

import json
import time
from io import StringIO
from unittest import mock

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from directo_mail import settings as project_settings
from invoices.mailing import invoices_mass_mail_start, invoices_unsent
from invoices.services import invoice_demo_create
from massmail import checks, jobs
from massmail.conf import MassMailRefusedError
from massmail.jobs import massmail_job_cancel, massmail_job_pause, massmail_job_resume
from massmail.limits import RATE_WINDOW_MARGIN, SenderLimiter, provider_limit_for
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from massmail.stores import RedisLimitStore
from oauth365.exceptions import ReauthenticationRequiredError
from oauth365.services import _on_reauth_needed
from tests.factories import UserCardFactory
from tests.massmail.conftest import PASSWORD, server_card

pytestmark = pytest.mark.django_db


def test_job_create_refused_unless_mode_allows_mass_mail(mass_settings):
    """A card resolving to Directo cannot mass-mail: refused with the reason, nothing created."""
    card = UserCardFactory(code="DIR")
    invoices = invoice_demo_create(owner_card=card, count=2, seed=1)
    with pytest.raises(MassMailRefusedError) as refused:
        invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])
    assert refused.value.cause == "mass_mail_not_allowed"
    assert "SMTP or Microsoft 365 OAUTH" in refused.value.user_message
    assert not MassMailJob.objects.exists()


def test_job_create_bulk_rows_stable_message_ids_enqueued_on_commit(
    mass_settings, mass_server, django_capture_on_commit_callbacks
):
    """One row per invoice with a unique Message-ID; dispatch is queued only after the commit."""
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=25, seed=2)
    with mock.patch("massmail.tasks.massmail_dispatch.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])
        assert apply_async.call_count == 0
        for callback in callbacks:
            callback()
    assert apply_async.call_count == 1  # its first run queues the others (fair dispatch)
    assert apply_async.call_args.kwargs["args"] == (job.pk,)
    ids = list(OutgoingMail.objects.filter(job=job).values_list("message_id", flat=True))
    assert len(ids) == 25 == len(set(ids)) == job.total
    assert all(mid.startswith("<") and mid.endswith("@acme.test>") for mid in ids)


def test_job_create_refuses_other_users_invoices(mass_settings, mass_server):
    """Invoice ids of another owner are refused by name."""
    card = server_card(mass_server())
    other = UserCardFactory(code="OTHER")
    foreign = invoice_demo_create(owner_card=other, count=1, seed=3)[0]
    with pytest.raises(MassMailRefusedError, match=str(foreign.pk)):
        invoices_mass_mail_start(card=card, invoice_ids=[foreign.pk])


def test_job_create_refuses_bad_template(mass_settings, mass_server):
    """A template with an unknown placeholder refuses the job with the template's message."""
    card = server_card(mass_server())
    invoice = invoice_demo_create(owner_card=card, count=1, seed=3)[0]
    with pytest.raises(MassMailRefusedError, match="unknown placeholder"):
        invoices_mass_mail_start(card=card, invoice_ids=[invoice.pk], subject_template="{nope}")


def test_invoices_unsent_leaves_out_sent_and_pending(mass_settings, mass_server):
    """--all-unsent picks invoices never mailed or failed, not sent, unknown or pending ones."""
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=4, seed=4)
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices[:3]])
    rows = list(OutgoingMail.objects.filter(job=job).order_by("document_id"))
    OutgoingMail.objects.filter(pk=rows[0].pk).update(status=MailStatus.SENT)
    OutgoingMail.objects.filter(pk=rows[1].pk).update(status=MailStatus.FAILED)
    unsent = set(invoices_unsent(card=card).values_list("pk", flat=True))
    assert unsent == {invoices[1].pk, invoices[3].pk}


@pytest.mark.django_db(transaction=True)
def test_job_finish_commits_status_and_counts_together(mass_settings, mass_server, monkeypatch):
    """Another connection never sees a finished job whose final counts are not stored yet."""
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=2, seed=31)
    with mock.patch("massmail.tasks.massmail_dispatch.apply_async"):
        job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])
    OutgoingMail.objects.filter(job=job).update(status=MailStatus.SENT)
    MassMailJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    seen = []
    store = jobs.massmail_job_counts_store
    params = connection.get_connection_params()

    def spying_store(*, job_id: int) -> dict[str, int]:
        with psycopg.connect(**params) as other:
            row = other.execute(
                "SELECT status FROM mailer_massmailjob WHERE id = %s", [job_id]
            ).fetchone()
        seen.append(row[0])
        return store(job_id=job_id)

    monkeypatch.setattr(jobs, "massmail_job_counts_store", spying_store)
    assert jobs.massmail_job_finish_if_done(job_id=job.pk)
    assert seen == [JobStatus.RUNNING]
    job.refresh_from_db()
    assert (job.status, job.sent_count) == (JobStatus.FINISHED, 2)


def test_job_pause_resume_cancel(mass_settings, mass_server, django_capture_on_commit_callbacks):
    """Pause stops, resume queues dispatch again, cancel fails the unsent rows as cancelled."""
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=3, seed=5)
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])
    assert massmail_job_pause(job=job) and job.status == JobStatus.PAUSED
    with (
        mock.patch("massmail.tasks.massmail_dispatch.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert massmail_job_resume(job=job)
    assert job.status == JobStatus.RUNNING and apply_async.called
    assert massmail_job_cancel(job=job) and job.status == JobStatus.CANCELLED
    assert set(OutgoingMail.objects.filter(job=job).values_list("cause", flat=True)) == {
        "cancelled"
    }
    assert job.failed_count == 3
    assert not massmail_job_resume(job=job)


def test_reauth_needed_pauses_the_cards_jobs(mass_settings, mass_server):
    """A lapsed Microsoft 365 consent pauses the card's active jobs with the reason."""
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=1, seed=6)
    job = invoices_mass_mail_start(card=card, invoice_ids=[invoices[0].pk])
    error = ReauthenticationRequiredError(card=card.code)
    _on_reauth_needed(card, error)
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED and job.status_reason == error.user_message


def test_limits_rate_window_shared_by_limiters(mass_settings, redis_url):
    """Two limiters of one mailbox share the window: the third message in it must wait."""
    mass_settings.MAILER_PROVIDER_LIMITS = [
        {"name": "zone-fast", "hosts": ["smtp.zone.eu"], "rates": [[2, 1]], "connections": 1}
    ]
    store = RedisLimitStore(redis_url)
    one = SenderLimiter(host="smtp.zone.eu", mailbox="a@zone.test", store=store)
    two = SenderLimiter(host="smtp.zone.eu", mailbox="a@zone.test", store=store)
    other = SenderLimiter(host="smtp.zone.eu", mailbox="b@zone.test", store=store)
    assert one.rate_wait() == 0 and two.rate_wait() == 0
    wait = one.rate_wait()
    assert 0 < wait <= 1 + RATE_WINDOW_MARGIN  # granted against a slightly longer window
    assert other.rate_wait() == 0
    time.sleep(wait + 0.05)
    assert two.rate_wait() == 0


def test_limits_connection_slot_expires_when_not_refreshed(mass_settings, redis_url):
    """A slot of a dead worker frees itself after its TTL; a live one is refused meanwhile."""
    store = RedisLimitStore(redis_url)
    mass_settings.MAILER_PROVIDER_LIMITS = [
        {"name": "one", "hosts": ["*"], "connections": 1, "rates": []}
    ]
    dead = SenderLimiter(host="smtp.x.test", mailbox="m", store=store, slot_ttl=0.3)
    live = SenderLimiter(host="smtp.x.test", mailbox="m", store=store, slot_ttl=0.3)
    assert dead.slot_acquire()
    assert not live.slot_acquire()
    time.sleep(0.4)
    assert live.slot_acquire()
    assert live.slots_in_use() == 1


def test_limits_defaults_match_provider_hosts(settings):
    """The defaults: Microsoft 365 30/min, 3 connections, 10,000/day; Zone 1 per 5 s; Gmail."""
    settings.MAILER_PROVIDER_LIMITS = project_settings.MAILER_PROVIDER_LIMITS
    m365 = provider_limit_for("smtp.office365.com")
    assert (m365.connections, m365.rates) == (3, ((30, 60.0), (10000, 86400.0)))
    assert provider_limit_for("SMTP.ZONE.EU").rates == ((1, 5.0),)
    assert provider_limit_for("smtp.gmail.com").rates == ((2000, 86400.0),)
    assert provider_limit_for("mail.example.test").name == "default"


def test_check_requires_visibility_over_time_limit_over_lease(settings):
    """The start-up check names a lease longer than the task, and a short visibility timeout."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/7"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    settings.MAILER_DISPATCH_TIME_LIMIT = 900
    settings.MAILER_LEASE_SECONDS = 1000
    ids = {error.id for error in checks.massmail_timing_check()}
    assert ids == {"massmail.E002", "massmail.E003"}
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    settings.MAILER_LEASE_SECONDS = 120
    assert checks.massmail_timing_check() == []


def test_command_inline_wait_json_counts(mass_settings, mass_server):
    """massmail_invoices --inline --json sends and prints the final counts as one document."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    invoices = invoice_demo_create(owner_card=card, count=3, seed=8)
    out, err = StringIO(), StringIO()
    ids = ",".join(str(i.pk) for i in invoices)
    call_command(
        "massmail_invoices",
        "--user",
        "kivi",
        "--ids",
        ids,
        "--inline",
        "--json",
        stdout=out,
        stderr=err,
    )
    document = json.loads(out.getvalue())
    assert document["status"] == "finished"
    assert (document["total"], document["sent"], document["failed"], document["unknown"]) == (
        3,
        3,
        0,
        0,
    )
    assert "100%" in err.getvalue()
    assert len(server.sink.deliveries) == 3


def test_command_refused_job_exits_nonzero_with_reason(mass_settings):
    """A refused job is a CommandError naming the reason."""
    card = UserCardFactory(code="DIR2")
    invoice_demo_create(owner_card=card, count=1, seed=9)
    with pytest.raises(CommandError, match="Mass mailing is allowed only"):
        call_command("massmail_invoices", "--user", "DIR2", "--all-unsent", stdout=StringIO())


def test_command_wait_exits_nonzero_when_a_message_failed(mass_settings, mass_server):
    """--wait exits 1 when any message failed (here: an invalid customer address)."""
    card = server_card(mass_server(tls="no", users={"kivi@acme.test": PASSWORD}))
    invoices = invoice_demo_create(owner_card=card, count=2, seed=10)
    invoices[0].customer_email = ""
    invoices[0].save()
    with pytest.raises(CommandError) as failed:
        call_command(
            "massmail_invoices",
            "--user",
            "KIVI",
            "--all-unsent",
            "--inline",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert failed.value.returncode == 1
    assert "1 failed" in str(failed.value)
