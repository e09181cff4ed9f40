"""A job's pause reason is kept as a cause and reads in the reader's language, not the worker's."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from mailer.causes import MailCause
from mailer.exceptions import MailSettingsError
from massmail.jobstate import job_pause
from massmail.models import JobStatus, MassMailJob
from oauth365.exceptions import ReauthenticationRequiredError
from oauth365.services import _on_reauth_needed
from tests.massmail.conftest import server_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(mass_settings, mass_server) -> MassMailJob:
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=1, seed=21)
    return invoices_mass_mail_start(card=card, invoice_ids=[invoices[0].pk])


def _read(job: MassMailJob, language: str) -> tuple[str, str]:
    """Return the job page and the progress JSON's reason as the owner reads them."""
    job.owner.language = language
    job.owner.save(update_fields=["language"])
    client = Client()
    client.force_login(job.owner.user)
    page = client.get(reverse("massmail:job", args=[job.pk])).content.decode()
    reason = client.get(reverse("massmail:job_progress", args=[job.pk])).json()["reason"]
    return page, reason


@pytest.mark.parametrize("language", ["et", "lv", "pl"])
def test_consent_lost_pause_reason_reads_in_the_readers_language(job, language):
    """A pause written while a worker speaks Estonian reads in the owner's language."""
    error = ReauthenticationRequiredError(code="AADSTS700082")
    worker = "lv" if language == "et" else "et"
    with translation.override(worker):
        _on_reauth_needed(job.owner, error)
        written = error.message
    with translation.override(language):
        expected = error.message
    page, reason = _read(job, language)
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED and job.status_cause == error.cause
    assert expected != written and escape(expected) in page and reason == expected
    assert escape(written) not in page
    with translation.override("en"):
        assert error.message not in page


@pytest.mark.parametrize(
    ("language", "glossary"),
    [("et", "Server ja port"), ("lv", "Serveri un portu"), ("pl", "Serwer poczty mailowej i port")],
)
def test_settings_incomplete_pause_reason_reads_in_the_readers_language(job, language, glossary):
    """A job paused for incomplete settings names what is missing in the reader's language."""
    config_error = MailSettingsError(
        MailCause.SETTINGS_INCOMPLETE,
        extra={"missing": "mail_server", "code": job.owner.code, "detail": "x"},
    )
    with translation.override("et" if language != "et" else "pl"):
        job_pause(job_id=job.pk, error=config_error)
    page, reason = _read(job, language)
    assert glossary in reason and escape(reason) in page
    assert "no mail server after merging" not in page


def test_pause_reason_without_a_cause_is_still_translated(job):
    """A reason stored as text (an older row, a user's pause) still reads translated."""
    MassMailJob.objects.filter(pk=job.pk).update(
        status=JobStatus.PAUSED, status_reason="Paused by the user."
    )
    _page, reason = _read(job, "pl")
    with translation.override("pl"):
        assert reason == gettext("Paused by the user.") != "Paused by the user."
