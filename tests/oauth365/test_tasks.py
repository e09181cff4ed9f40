"""The beat task keeps idle token caches fresh and warns before an unrefreshed consent lapses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone, translation
from django.utils.formats import date_format

from events.models import EventKind, MailEvent
from oauth365.models import M365Connection, M365Status
from oauth365.tasks import KEEP_FRESH_TASK, m365_tokens_keep_fresh

pytestmark = pytest.mark.django_db


def _rest(card, days: int) -> None:
    past = timezone.now() - timedelta(days=days)
    M365Connection.objects.filter(card=card).update(authenticated_at=past, token_refreshed_at=past)


def test_keep_fresh_task_is_scheduled():
    """Celery beat runs the keep-fresh task."""
    scheduled = [entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()]

    assert KEEP_FRESH_TASK in scheduled


def test_keep_fresh_redeems_idle_refresh_token(idp, card, user_client, sign_in):
    """A cache idle for over a week is refreshed once and its rotated refresh token saved."""
    sign_in(user_client)
    _rest(card, days=8)

    counts = m365_tokens_keep_fresh()

    assert counts == {"refreshed": 1, "failed": 0, "warned": 0}
    assert idp.refresh_count == 1
    connection = M365Connection.objects.get(card=card)
    assert connection.token_refreshed_at > timezone.now() - timedelta(minutes=1)


def test_keep_fresh_leaves_recent_caches_alone(idp, card, user_client, sign_in):
    """A cache refreshed within the week is not touched."""
    sign_in(user_client)

    counts = m365_tokens_keep_fresh()

    assert counts["refreshed"] == 0
    assert idp.refresh_count == 0


def test_keep_fresh_revoked_consent_records_reauth_event(idp, card, user_client, sign_in):
    """A revoked consent found by the task marks the card and records one event."""
    sign_in(user_client)
    _rest(card, days=8)
    idp.refresh_error = ("invalid_grant", "AADSTS50173: The provided grant has expired.")

    counts = m365_tokens_keep_fresh()
    m365_tokens_keep_fresh()

    assert counts["failed"] == 1
    assert M365Connection.objects.get(card=card).status == M365Status.REAUTH_NEEDED
    assert MailEvent.objects.filter(card=card, kind=EventKind.REAUTH_NEEDED).count() == 1
    assert idp.refresh_count == 1


def test_keep_fresh_warns_once_before_consent_lapses(idp, card, user_client, sign_in):
    """Refreshes failing for 80 days give one warning naming the date the consent lapses."""
    sign_in(user_client)
    _rest(card, days=80)
    idp.stop()  # the provider is unreachable: a transient failure each time

    first = m365_tokens_keep_fresh()
    second = m365_tokens_keep_fresh()

    assert first["warned"] == 1 and second["warned"] == 0
    (event,) = MailEvent.objects.filter(card=card)
    assert event.cause == "m365_consent_expiring"
    lapses = (timezone.now() + timedelta(days=10)).date()
    assert event.params["lapses"] == lapses.isoformat()  # stored as ISO, shown as the reader's
    with translation.override("en"):
        assert f"lapses on {date_format(lapses, 'DATE_FORMAT')}" in event.text
    assert M365Connection.objects.get(card=card).status == M365Status.CONNECTED
