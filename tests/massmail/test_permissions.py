"""Model permissions, not `is_staff`, guard the actions and pages (issue 10, item 4)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from events.models import EventKind, MailEvent
from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from massmail.models import JobStatus, MassMailJob
from oauth365.models import M365Connection
from tests.factories import UserCardFactory, UserFactory
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
