"""Model permissions, not `is_staff`, guard the actions and pages (issue 10, item 4), and one
end user never sees or touches another's invoices, letters or jobs (issue 13)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from events.models import EventKind, MailEvent
from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from massmail.models import JobStatus, MassMailJob, OutgoingMail
from oauth365.models import M365Connection
from tests.factories import InvoiceFactory, UserCardFactory, UserFactory
from tests.massmail.conftest import server_card

pytestmark = pytest.mark.django_db


def staff(client, *codenames: str):
    """Sign in a staff account that holds exactly the given permissions."""
    user = UserFactory(username="STAFF", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


@pytest.fixture
def invoices(mass_settings, mass_server):
    card = server_card(mass_server(), mail_edit=False)
    return invoice_demo_create(owner_card=card, count=2, seed=21)


@pytest.fixture
def job(invoices):
    return invoices_mass_mail_start(card=invoices[0].owner, invoice_ids=[i.pk for i in invoices])


def test_invoice_admin_mass_mail_needs_add_job_permission(client, invoices):
    """Staff without the add-job permission cannot start a mass mailing; with it they can."""
    staff(client, "view_invoice", "change_invoice")
    url = reverse("admin:invoices_invoice_changelist")
    selection = {"action": "mass_mail", "_selected_action": [str(i.pk) for i in invoices]}
    assert b'value="mass_mail"' not in client.get(url).content
    with mock.patch("massmail.tasks.massmail_dispatch.apply_async"):
        client.post(url, selection)
    assert not MassMailJob.objects.exists()

    staff_user = staff(client, "view_invoice", "change_invoice", "add_massmailjob")
    assert staff_user.has_perm("massmail.add_massmailjob")
    assert b'value="mass_mail"' in client.get(url).content
    with mock.patch("massmail.tasks.massmail_dispatch.apply_async"):
        client.post(url, selection)
    assert MassMailJob.objects.get().total == 2


@pytest.mark.parametrize("action", ["pause_jobs", "cancel_jobs"])
def test_job_admin_actions_need_change_permission(client, job, action):
    """A view-only staff account cannot pause or cancel jobs from the admin list."""
    staff(client, "view_massmailjob")
    url = reverse("admin:massmail_massmailjob_changelist")
    client.post(url, {"action": action, "_selected_action": [str(job.pk)]})
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED

    staff(client, "view_massmailjob", "change_massmailjob")
    client.post(url, {"action": action, "_selected_action": [str(job.pk)]})
    job.refresh_from_db()
    assert job.status != JobStatus.QUEUED


def test_job_pages_follow_view_and_change_permissions(client, job):
    """Staff without the view permission get 404; with view only, the controls answer 403."""
    staff(client)
    assert client.get(reverse("massmail:job", args=[job.pk])).status_code == 404
    assert job.pk not in [j.pk for j in client.get(reverse("massmail:jobs")).context["jobs"]]

    staff(client, "view_massmailjob")
    assert client.get(reverse("massmail:job", args=[job.pk])).status_code == 200
    assert job.pk in [j.pk for j in client.get(reverse("massmail:jobs")).context["jobs"]]
    cancel = reverse("massmail:job_action", args=[job.pk, "cancel"])
    assert client.post(cancel).status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED

    staff(client, "view_massmailjob", "change_massmailjob")
    assert client.post(cancel).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_all_events_page_needs_view_event_permission(client):
    """Staff without permission to view events get 403 on the all-events page."""
    card = UserCardFactory(code="KIVI")
    MailEvent.objects.create(card=card, user_code="KIVI", kind=EventKind.BOUNCE, message="m")
    url = reverse("deliverability:all_events")
    staff(client)
    assert client.get(url).status_code == 403
    staff(client, "view_mailevent")
    assert client.get(url).status_code == 200


def test_disconnect_other_card_needs_delete_connection_permission(client):
    """Only staff who may delete Microsoft 365 connections disconnect another user's card."""
    card = UserCardFactory(code="KIVI")
    M365Connection.objects.create(card=card, token_cache="{}", account="kivi@contoso.test")
    url = reverse("oauth365:disconnect_card", args=[card.pk])
    staff(client, "view_usercard", "change_usercard")
    assert client.post(url).status_code == 403
    assert M365Connection.objects.filter(card=card).exclude(token_cache="").exists()
    staff(client, "view_usercard", "delete_m365connection")
    assert client.post(url).status_code == 302
    assert not M365Connection.objects.filter(card=card).exclude(token_cache="").exists()


# -- One end user's rows are invisible and untouchable for another (no staff rights at all) --


def _letter_job(card, *, subject: str, status: str = JobStatus.QUEUED) -> MassMailJob:
    """A letter job of the card with one queued row (letters' own start needs customers)."""
    job = MassMailJob.objects.create(
        owner=card,
        document_kind="letter",
        subject_template=subject,
        body_template="Dear {customer}",
        total=1,
        status=status,
    )
    OutgoingMail.objects.create(
        job=job,
        document_id=1,
        document_label="Tamm OÜ",
        recipient="tamm@example.test",
        message_id=f"<letter-{job.pk}@acme.test>",
    )
    return job


def _other_user(client):
    """Sign in a second end user (own card, no staff rights) and return the card."""
    card = UserCardFactory(code="MARI")
    assert not (card.user.is_staff or card.user.is_superuser)
    client.force_login(card.user)
    return card


@pytest.mark.parametrize("kind", ["invoice", "letter"])
def test_job_of_another_user_is_404_for_page_progress_and_every_action(client, job, kind):
    """Another end user gets 404 for the page, the JSON and pause, resume, cancel; nothing moves."""
    if kind == "letter":
        job = _letter_job(job.owner, subject="Autumn prices")
    _other_user(client)
    assert client.get(reverse("massmail:job", args=[job.pk])).status_code == 404
    assert client.get(reverse("massmail:job_progress", args=[job.pk])).status_code == 404
    for status, actions in (
        (JobStatus.QUEUED, ("pause", "cancel")),
        (JobStatus.PAUSED, ("resume", "cancel")),
    ):
        MassMailJob.objects.filter(pk=job.pk).update(status=status)
        for action in actions:
            url = reverse("massmail:job_action", args=[job.pk, action])
            assert client.post(url).status_code == 404, action
            job.refresh_from_db()
            assert job.status == status, action
    assert not OutgoingMail.objects.filter(job=job).exclude(status="queued").exists()


def test_job_list_of_end_user_shows_only_own_jobs(client, job):
    """ "My jobs" lists the user's own invoice and letter jobs, never another user's."""
    theirs = _letter_job(job.owner, subject="Autumn prices")
    mine = _letter_job(_other_user(client), subject="Winter prices")
    html = client.get(reverse("massmail:jobs")).content.decode()
    assert f'href="{reverse("massmail:job", args=[mine.pk])}"' in html
    for other in (job, theirs):
        assert f'href="{reverse("massmail:job", args=[other.pk])}"' not in html
    assert "KIVI" not in html


def test_letter_page_shows_only_own_earlier_letters(client, job):
    """The letters page lists the user's own earlier letters, not another user's."""
    _letter_job(job.owner, subject="Autumn prices for {customer}")
    _letter_job(_other_user(client), subject="Winter prices for {customer}")
    html = client.get(reverse("letters:page")).content.decode()
    assert "Winter prices" in html
    assert "Autumn prices" not in html


@pytest.mark.parametrize("mail_edit", [True, False])
def test_invoice_mass_mail_with_another_users_invoice_among_own_is_404(client, invoices, mail_edit):
    """One foreign id among the user's own refuses the whole selection: 404, no job, no step."""
    card = _other_user(client)
    card.mail_edit = mail_edit
    card.save()
    own = InvoiceFactory(owner=card)
    ids = [own.pk, invoices[0].pk]
    url = reverse("invoices:mass_mail")
    assert client.post(url, {"invoice": ids}).status_code == 404
    data = {"invoice": ids, "apply": "1", "subject_template": "S {number}", "body_template": "B"}
    assert client.post(url, data).status_code == 404
    assert not MassMailJob.objects.filter(owner=card).exists()
    html = client.get(reverse("invoices:list")).content.decode()
    assert own.number in html
    assert all(invoice.number not in html for invoice in invoices)


def test_invoice_send_of_another_users_invoice_without_mail_edit_is_404(client, invoices):
    """With Mail edit = No too, sending another user's invoice is a 404 and nothing is queued."""
    card = _other_user(client)
    assert not card.mail_edit
    response = client.post(reverse("invoices:send", args=[invoices[0].pk]))
    assert response.status_code == 404
    assert not OutgoingMail.objects.exists()
