"""My mail events writes each event's time as the reader's language does, not as ISO."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from events.models import EventKind, MailEvent
from tests.factories import UserCardFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["et", "lv", "pl"])
def test_events_page_time_follows_the_readers_language(client, language):
    """The time column uses the language's short date and time format."""
    card = UserCardFactory(code="KIVI", language=language)
    event = MailEvent.objects.create(
        card=card, user_code=card.code, kind=EventKind.BOUNCE, cause="x", message="Bounced."
    )
    client.force_login(card.user)
    page = client.get(reverse("deliverability:events")).content.decode()
    local = timezone.localtime(event.created_at)
    with translation.override(language):
        expected = date_format(local, "SHORT_DATETIME_FORMAT")
    assert f"<td>{expected}</td>" in page
    assert local.strftime("%Y-%m-%d %H:%M") not in page
