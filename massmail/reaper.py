"""The reaper: rows whose worker died are queued again, or reported unknown if transmitting."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from events.models import EventKind
from events.services import EventDraft, events_record
from massmail.causes import MassMailCause
from massmail.jobs import massmail_job_finish_if_done
from massmail.models import MailStatus, OutgoingMail

#: A transmitting row whose lease expired: its worker died mid-message (SPEC: honest unknown).
UNKNOWN_CAUSE = MassMailCause.WORKER_LOST


@dataclass(frozen=True)
class ReapResult:
    requeued: int
    unknown: int
    job_ids: frozenset[int]


def massmail_reap() -> ReapResult:
    """Handle expired leases: claimed rows go back to the queue, transmitting ones to unknown."""
    now = timezone.now()
    requeued = OutgoingMail.objects.filter(status=MailStatus.CLAIMED, lease_until__lt=now).update(
        status=MailStatus.QUEUED, claimed_by="", lease_until=None
    )
    with transaction.atomic():
        lost = list(
            OutgoingMail.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=MailStatus.TRANSMITTING, lease_until__lt=now)
            .select_related("job__owner")
        )
        if lost:
            message = UNKNOWN_CAUSE.render({})
            OutgoingMail.objects.filter(pk__in=[row.pk for row in lost]).update(
                status=MailStatus.UNKNOWN,
                cause=UNKNOWN_CAUSE,
                params={},
                user_message=message,
                lease_until=None,
            )
            events_record(
                EventDraft(
                    card=row.job.owner,
                    kind=EventKind.SEND_UNKNOWN,
                    cause=UNKNOWN_CAUSE,
                    message=message,
                    recipient=row.recipient,
                    message_id=row.message_id,
                )
                for row in lost
            )
    job_ids = frozenset(row.job_id for row in lost)
    for job_id in job_ids:
        massmail_job_finish_if_done(job_id=job_id)
    return ReapResult(requeued=requeued, unknown=len(lost), job_ids=job_ids)
