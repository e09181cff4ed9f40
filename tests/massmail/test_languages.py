"""Mass mailing in the reader's language: the job page, its progress texts, refusals."""

from __future__ import annotations

import pytest
from django.urls import reverse

from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from massmail.jobs import massmail_job_pause
from tests.massmail.conftest import server_card

pytestmark = pytest.mark.django_db

#: Per language: the page title, the pause button, a status label, the invalid-address cause.
PAGE = {
    "en": ("Mass-mail job", "Pause", "Queued", "is not a valid e-mail address"),
    "et": ("Massmeilitöö", "Peata", "Järjekorras", "ei ole korrektne e-posti aadress"),
    "lv": ("Masveida sūtīšanas darbs", "Apturēt", "Rindā", "nav derīga e-pasta adrese"),
    "pl": (
        "Zadanie masowej wysyłki",
        "Wstrzymaj",
        "W kolejce",
        "nie jest poprawnym adresem e-mail",
    ),
}


@pytest.fixture
def job(mass_settings, mass_server):
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=3, seed=11)
    invoices[2].customer_email = "broken@"
    invoices[2].save()
    return invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])


@pytest.mark.parametrize("language", ["en", "et", "lv", "pl"])
def test_job_page_speaks_browser_language(client, job, language):
    """The job page, its statuses and a row's cause are in the browser's language."""
    client.force_login(job.owner.user)
    response = client.get(reverse("massmail:job", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    body = response.content.decode()
    title, pause, queued, cause = PAGE[language]
    assert f'<h1 id="job-title">{title} {job.pk} · KIVI</h1>' in body
    assert f">{pause}</button>" in body
    assert f'<strong data-field="status">{queued}</strong>' in body
    assert cause in body and "broken@" in body
    # The counts keep their markers for job.js whatever the language.
    assert '<span data-count="sent">0</span>' in body


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        ("en", "Paused by the user."),
        ("et", "Kasutaja peatas töö."),
        ("pl", "Wstrzymane przez użytkownika."),
    ],
)
def test_job_progress_reason_in_reader_language(client, job, language, reason):
    """A stored status reason is shown in the reader's language, in the JSON and on the page."""
    massmail_job_pause(job=job)
    client.force_login(job.owner.user)
    data = client.get(
        reverse("massmail:job_progress", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language
    ).json()
    assert data["status"] == "paused" and data["reason"] == reason
    page = client.get(reverse("massmail:job", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert reason in page.content.decode()


def test_job_resume_refusal_in_card_language(client, job):
    """A refused resume reads in the card's language (Latvian), its placeholders filled."""
    massmail_job_pause(job=job)
    card = job.owner
    card.mail_sender = "directo"
    card.language = "lv"
    card.save()
    client.force_login(card.user)
    response = client.post(
        reverse("massmail:job_action", args=[job.pk, "resume"]),
        HTTP_ACCEPT_LANGUAGE="pl",
        follow=True,
    )
    body = response.content.decode()
    assert "Masveida sūtīšana ir atļauta tikai ar SMTP vai Microsoft 365 OAUTH" in body
    assert "lietotāja KIVI E-pasta sūtītājs ir “Directo”" in body
    assert "{code}" not in body and "Mass mailing is allowed" not in body


def test_javascript_catalog_has_job_statuses(client):
    """job.js's status labels come from the djangojs catalog of the active language."""
    response = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="pl")
    body = response.content.decode()
    assert '"Paused": "Wstrzymane"' in body and '"Finished": "Zako' in body
