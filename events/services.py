"""Recording events: the one place that writes the event log (SPEC.md "Events")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from events.errors import Param
from events.models import MailEvent
from users.models import UserCard

#: The longest text kept of a message or a server's reply: an event is a line, not an archive.
TEXT_LIMIT = 4000


def _clean(text: str, limit: int = TEXT_LIMIT) -> str:
    # Events are shown on pages and in JSON: no control characters, bounded length.
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    return cleaned[:limit]


def _param_clean(value: Param) -> Param:
    return _clean(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class EventDraft:
    """One event to record; never a secret (messages are built from named errors).

    `params` are the named parameters of the cause's template: the page renders the text from
    them when shown, in the reader's language; `message` is the text as recorded.
    """

    card: UserCard
    kind: str
    cause: str
    message: str
    recipient: str = ""
    message_id: str = ""
    smtp_code: int | None = None
    smtp_reply: str = ""
    step: str = ""
    params: Mapping[str, Param] = field(default_factory=dict)

    def row(self) -> MailEvent:
        return MailEvent(
            card=self.card,
            user_code=self.card.code,
            kind=self.kind,
            cause=self.cause[:64],
            message=_clean(self.message),
            params={key: _param_clean(value) for key, value in self.params.items()},
            recipient=self.recipient[:320],
            message_id=self.message_id[:998],
            smtp_code=self.smtp_code,
            smtp_reply=_clean(self.smtp_reply),
            step=self.step[:16],
        )


def event_record(
    *,
    card: UserCard,
    kind: str,
    cause: str,
    message: str,
    params: Mapping[str, Param] | None = None,
    recipient: str = "",
    message_id: str = "",
    smtp_code: int | None = None,
    smtp_reply: str = "",
    step: str = "",
) -> MailEvent:
    """Record one event on the card: its cause, the parameters of its message and the text."""
    draft = EventDraft(
        card=card,
        kind=kind,
        cause=cause,
        message=message,
        params=params or {},
        recipient=recipient,
        message_id=message_id,
        smtp_code=smtp_code,
        smtp_reply=smtp_reply,
        step=step,
    )
    event = draft.row()
    event.save()
    return event


def events_record(drafts: Iterable[EventDraft]) -> list[MailEvent]:
    """Record many events in one statement (the reaper marks a dead worker's rows at once)."""
    return MailEvent.objects.bulk_create([draft.row() for draft in drafts])
