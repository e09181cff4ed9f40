"""The job page, its progress JSON and controls, and the invoice admin's mass-mail action."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from tests.factories import UserCardFactory, UserFactory
from tests.massmail.conftest import server_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(mass_settings, mass_server):
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=3, seed=11)
    invoices[2].customer_email = "broken@"
    invoices[2].save()
    return invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])


def test_job_page_shows_progress_and_each_invoice_cause(client, job):
    """The owner sees the progress bar, the counts and each invoice's status with its cause."""
    client.force_login(job.owner.user)
    response = client.get(reverse("massmail:job", args=[job.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'role="progressbar"' in body and reverse("massmail:job_progress", args=[job.pk]) in body
    assert "is not a valid e-mail address" in body
    assert body.count('class="mail-queued"') == 2


def test_job_progress_json_counts_per_status(client, job):
    """The progress endpoint returns counts per status, done, rate and the expected finish."""
    OutgoingMail.objects.filter(job=job, status=MailStatus.QUEUED).update(status=MailStatus.SENT)
    client.force_login(job.owner.user)
    data = client.get(reverse("massmail:job_progress", args=[job.pk])).json()
    assert data["counts"]["sent"] == 2 and data["counts"]["failed"] == 1
    assert data["counts"]["total"] == 3 and data["done"] == 3
    assert set(data) >= {"rate", "expected_finish", "status", "reason"}


def test_job_page_hidden_from_other_users(client, job):
    """Another non-staff user gets a 404 for the page, the JSON and the controls."""
    client.force_login(UserFactory(username="STRANGER"))
    assert client.get(reverse("massmail:job", args=[job.pk])).status_code == 404
    assert client.get(reverse("massmail:job_progress", args=[job.pk])).status_code == 404
    url = reverse("massmail:job_action", args=[job.pk, "cancel"])
    assert client.post(url).status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_job_controls_pause_and_cancel_by_post(client, job):
    """Pause and cancel are POST actions; GET does nothing."""
    client.force_login(job.owner.user)
    pause = reverse("massmail:job_action", args=[job.pk, "pause"])
    assert client.get(pause).status_code == 405
    assert client.post(pause).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED
    client.post(reverse("massmail:job_action", args=[job.pk, "cancel"]))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_admin_action_mail_edit_asks_for_templates_first(admin_client, mass_settings, mass_server):
    """With Mail edit Yes the action shows the template form; submitting it starts the job."""
    card = server_card(mass_server(), mail_edit=True)
    invoices = invoice_demo_create(owner_card=card, count=2, seed=12)
    url = reverse("admin:invoices_invoice_changelist")
    selection = {"action": "mass_mail", "_selected_action": [str(i.pk) for i in invoices]}
    response = admin_client.post(url, selection)
    assert response.status_code == 200
    assert "Start mass-mailing" in response.content.decode()
    assert not MassMailJob.objects.exists()
    with mock.patch("massmail.tasks.massmail_dispatch.apply_async"):
        response = admin_client.post(
            url,
            {
                **selection,
                "apply": "1",
                "subject_template": "Arve {number}",
                "body_template": "Tere {customer}!",
            },
        )
    assert response.status_code == 302
    job = MassMailJob.objects.get()
    assert (job.subject_template, job.body_template, job.total) == (
        "Arve {number}",
        "Tere {customer}!",
        2,
    )


def test_admin_action_without_mail_edit_starts_job_at_once(
    admin_client, mass_settings, mass_server
):
    """With Mail edit No the action starts the job with the default templates."""
    card = server_card(mass_server(), mail_edit=False)
    invoices = invoice_demo_create(owner_card=card, count=2, seed=13)
    with mock.patch("massmail.tasks.massmail_dispatch.apply_async"):
        admin_client.post(
            reverse("admin:invoices_invoice_changelist"),
            {"action": "mass_mail", "_selected_action": [str(i.pk) for i in invoices]},
        )
    assert MassMailJob.objects.get().total == 2
    jobs = admin_client.get(reverse("admin:massmail_massmailjob_changelist"))
    assert jobs.status_code == 200 and b"job page" in jobs.content


def test_job_list_links_where_each_kind_of_mailing_starts(client):
    """A non-staff user's job list links the invoices and letters pages, and no admin page."""
    user = UserFactory(username="MARI")
    assert not user.is_staff
    client.force_login(user)
    body = client.get(reverse("massmail:jobs")).content.decode()
    assert "Start a mailing:" in body
    assert f'<a href="{reverse("invoices:list")}">Invoices</a>' in body
    assert f'<a href="{reverse("letters:page")}">Letters</a>' in body
    assert 'href="/admin/' not in body and "massmail_invoices" not in body


def test_job_list_shows_each_jobs_kind_in_the_readers_language(client):
    """Each row names its kind of document: Invoices or Letters, translated."""
    card = UserCardFactory(code="MARI")
    MassMailJob.objects.create(owner=card, document_kind="invoice", total=2)
    MassMailJob.objects.create(owner=card, document_kind="letter", total=5)
    client.force_login(card.user)
    body = client.get(reverse("massmail:jobs")).content.decode()
    assert '<td data-kind="invoice">Invoices</td>' in body
    assert '<td data-kind="letter">Letters</td>' in body
    card.language = "et"
    card.save()
    body = client.get(reverse("massmail:jobs"), headers={"accept-language": "et"}).content.decode()
    assert '<td data-kind="invoice">Arved</td>' in body
    assert '<td data-kind="letter">Kirjad</td>' in body


def test_job_page_names_its_kind_and_announces_why_it_stopped(client):
    """A letter job's page says Letters, its bar is named by its title, its reason is live."""
    card = UserCardFactory(code="MARI")
    job = MassMailJob.objects.create(
        owner=card,
        document_kind="letter",
        status=JobStatus.PAUSED,
        status_reason="Paused by the user.",
        total=1,
    )
    client.force_login(card.user)
    body = client.get(reverse("massmail:job", args=[job.pk])).content.decode()
    assert "<h2>Letters</h2>" in body and "<h2>Invoices</h2>" not in body
    # The progress bar is named by the job's title, not by a kind of document.
    assert '<h1 id="job-title">' in body and 'aria-labelledby="job-title"' in body
    reason = body[body.index('<p class="job-reason"') :]
    assert 'aria-live="polite"' in reason[: reason.index(">")]
    assert "Paused by the user." in reason[: reason.index("</p>")]
