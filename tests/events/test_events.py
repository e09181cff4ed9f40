"""The event log and the `mail_events` command."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import EventKind, MailEvent
from tests.factories import UserCardFactory

pytestmark = pytest.mark.django_db


def _event(card, **values):
    defaults = {
        "card": card,
        "user_code": card.code,
        "kind": EventKind.SEND_FAILED,
        "cause": "auth_rejected",
        "message": "The server rejected the username or password.",
        "recipient": "customer@example.test",
        "message_id": "<1@example.test>",
    }
    return MailEvent.objects.create(**(defaults | values))


def test_mail_events_json_lists_events_with_contract_keys():
    """`mail_events --json` prints one JSON list whose events carry the SPEC.md keys."""
    kivi = UserCardFactory(code="KIVI")
    _event(kivi)
    out = StringIO()
    call_command("mail_events", "--json", stdout=out)
    events = json.loads(out.getvalue())
    assert len(events) == 1
    assert {"time", "user", "kind", "cause", "message", "recipient", "message_id"} <= set(events[0])
    assert events[0]["user"] == "KIVI" and events[0]["kind"] == "send_failed"


def test_mail_events_filters_by_user_case_insensitively():
    """`--user` shows only that user's events, whatever the case of the code."""
    kivi, mari = UserCardFactory(code="KIVI"), UserCardFactory(code="MARI")
    _event(kivi, recipient="a@example.test")
    _event(mari, recipient="b@example.test", kind=EventKind.BOUNCE, cause="bounce_hard")
    out = StringIO()
    call_command("mail_events", "--user", "mari", "--json", stdout=out)
    events = json.loads(out.getvalue())
    assert [event["recipient"] for event in events] == ["b@example.test"]
    assert events[0]["kind"] == "bounce"


def test_mail_events_unknown_user_is_an_error():
    """An unknown user code is refused with a message naming it."""
    with pytest.raises(CommandError, match="NOPE"):
        call_command("mail_events", "--user", "NOPE", stdout=StringIO())


def test_mail_events_outlive_a_deleted_card():
    """Deleting a card keeps its events under the user code."""
    kivi = UserCardFactory(code="KIVI")
    _event(kivi)
    kivi.user.delete()
    out = StringIO()
    call_command("mail_events", "--user", "kivi", "--json", stdout=out)
    assert json.loads(out.getvalue())[0]["user"] == "KIVI"
