"""The job list and the job page write times as the reader's language does, not as ISO."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from tests.massmail.conftest import server_card

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["et", "lv", "pl"])
def test_job_list_time_follows_the_readers_language(mass_settings, mass_server, language):
    """A job's creation time on the job list uses the language's short format."""
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=1, seed=31)
    job = invoices_mass_mail_start(card=card, invoice_ids=[invoices[0].pk])
    card.language = language
    card.save(update_fields=["language"])
    client = Client()
    client.force_login(card.user)
    page = client.get(reverse("massmail:jobs")).content.decode()
    local = timezone.localtime(job.created_at)
    with translation.override(language):
        expected = date_format(local, "SHORT_DATETIME_FORMAT")
    assert expected in page and local.strftime("%Y-%m-%d %H:%M") not in page
