"""A job's rows in one worker's hands: claim, put back, mark transmitting, record the outcome.

Every write after the claim goes through one fence (`_held`): the row must still be claimed by
this worker and in a state the transition starts from. A row that the reaper queued again, a
cancel failed or another worker reclaimed is left alone. Per message the database sees two
statements: the fenced mark "transmitting" right before DATA, then the outcome.

An outcome that cannot be written because our database went away is written again on a fresh
connection until the row's lease runs out (a server that took the message must see it `sent`,
never sent again); past that it stays "transmitting" and the reaper makes it `unknown`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from events.errors import UserFacingError
from mailer.exceptions import MailDeliveryError
from mailer.outages import DATABASE_ERRORS, database_retry
from massmail.models import PENDING_STATUSES, JobStatus, MailStatus, MassMailJob, OutgoingMail

#: The states each transition starts from; a row in any other state is not this worker's.
_FROM_CLAIMED = (MailStatus.CLAIMED,)
_FROM_TRANSMITTED = (MailStatus.TRANSMITTING, MailStatus.UNKNOWN)
# UNKNOWN: the reaper gave up on a slow transmission whose answer then came; the answer wins.
_FROM_HELD = (MailStatus.CLAIMED, MailStatus.TRANSMITTING, MailStatus.UNKNOWN)


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    document_id: int
    recipient: str
    message_id: str
    attempts: int


class LeaseLostError(Exception):
    """The row is no longer this worker's (reaped, reclaimed or cancelled): do not send it."""


def massmail_claim(*, job_id: int, worker: str, limit: int, lease: float) -> list[ClaimedRow]:
    """Claim up to `limit` due rows of a running job in one statement, skipping locked rows."""
    now = timezone.now()
    qn = connection.ops.quote_name
    mails, jobs = qn(OutgoingMail._meta.db_table), qn(MassMailJob._meta.db_table)
    lock = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    # Table names come from the models; every value is a parameter.
    sql = (
        f"UPDATE {mails} SET status = %s, lease_until = %s, claimed_by = %s "  # noqa: S608
        f"WHERE id IN (SELECT id FROM {mails} WHERE job_id = %s "
        "AND (status = %s OR (status = %s AND next_attempt_at <= %s)) "
        f"AND EXISTS (SELECT 1 FROM {jobs} WHERE id = %s AND status = %s) "
        f"ORDER BY id LIMIT %s{lock}) "
        "RETURNING id, document_id, recipient, message_id, attempts"
    )
    params: list[Any] = [
        MailStatus.CLAIMED,
        now + timedelta(seconds=lease),
        worker,
        job_id,
        MailStatus.QUEUED,
        MailStatus.RETRY,
        now,
        job_id,
        JobStatus.RUNNING,
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return sorted((ClaimedRow(*row) for row in rows), key=lambda row: row.id)


def _held(worker: str, states: Collection[str], **lookup: Any) -> QuerySet[OutgoingMail]:
    """Return the rows matching `lookup` that `worker` still holds in one of `states`."""
    return OutgoingMail.objects.filter(claimed_by=worker, status__in=states, **lookup)


def massmail_release(*, ids: list[int], worker: str) -> int:
    """Put rows this worker claimed but did not transmit back in the queue."""
    if not ids:
        return 0
    return _held(worker, _FROM_CLAIMED, pk__in=ids).update(
        status=MailStatus.QUEUED, claimed_by="", lease_until=None
    )


def _error_values(error: UserFacingError) -> dict[str, Any]:
    smtp_code = error.smtp.code if isinstance(error, MailDeliveryError) else None
    return {
        "cause": error.cause,
        "params": dict(error.params),
        "user_message": error.message,
        "smtp_code": smtp_code,
    }


class RowLedger:
    """The row writes of one dispatch run: each fenced by the worker's name."""

    def __init__(self, *, job_id: int, worker: str, lease: float) -> None:
        self.job_id = job_id
        self.worker = worker
        self.lease = lease
        #: When each held row's lease runs out (time.monotonic()): outcomes are replayed until.
        self._lease_ends: dict[int, float] = {}
        #: Rows whose "transmitting" mark met a database error: their DATA never started.
        self._not_transmitted: set[int] = set()

    def claim(self, *, limit: int) -> list[ClaimedRow]:
        started = time.monotonic()
        rows = massmail_claim(job_id=self.job_id, worker=self.worker, limit=limit, lease=self.lease)
        self._lease_ends.update((row.id, started + self.lease) for row in rows)
        return rows

    def release(self, rows: Collection[ClaimedRow]) -> None:
        massmail_release(ids=[row.id for row in rows], worker=self.worker)
        for row in rows:
            self._lease_ends.pop(row.id, None)

    def transmitting_marker(self, row: ClaimedRow) -> Callable[[], None]:
        """Return the transport's `before_data`: mark the row transmitting, once, or refuse."""
        marked = False

        def mark() -> None:
            nonlocal marked
            if marked:  # the transport reconnected and is at DATA again
                return
            started = time.monotonic()
            lease_until = timezone.now() + timedelta(seconds=self.lease)
            try:
                updated = _held(self.worker, _FROM_CLAIMED, pk=row.id).update(
                    status=MailStatus.TRANSMITTING, lease_until=lease_until
                )
            except DATABASE_ERRORS:
                # The transport drops the session before DATA: the row may go again.
                self._not_transmitted.add(row.id)
                raise
            if updated != 1:
                raise LeaseLostError(row.id)
            self._lease_ends[row.id] = started + self.lease
            marked = True

        return mark

    def _write(self, row: ClaimedRow, write: Callable[[], object]) -> None:
        """Write a row's outcome; through a database outage, again until its lease runs out."""
        # A margin: the mark lands before the reaper's look at the expired lease.
        until = self._lease_ends.pop(row.id, time.monotonic() + self.lease) - self.lease / 10
        database_retry(write, until=until)

    def sent(self, row: ClaimedRow) -> None:
        self._write(
            row,
            lambda: _held(self.worker, _FROM_TRANSMITTED, pk=row.id).update(
                status=MailStatus.SENT,
                sent_at=timezone.now(),
                attempts=row.attempts + 1,
                lease_until=None,
                cause="",
                params={},
                user_message="",
                smtp_code=None,
            ),
        )

    def recover(self) -> int:
        """After a database outage: put back what this worker holds but did not transmit.

        Rows that are "transmitting" and may have been transmitted stay as they are: their
        outcome was written, or the reaper makes them `unknown`. Return how many went back.
        """
        held = _held(self.worker, _FROM_CLAIMED, job_id=self.job_id)
        if self._not_transmitted:
            held = held | _held(
                self.worker, (MailStatus.TRANSMITTING,), pk__in=self._not_transmitted
            )
        back = held.update(status=MailStatus.QUEUED, claimed_by="", lease_until=None)
        self._not_transmitted.clear()
        self._lease_ends.clear()
        return back

    def outcome(
        self,
        row: ClaimedRow,
        error: UserFacingError,
        *,
        status: MailStatus,
        retry_at: datetime | None = None,
        counts_attempt: bool = True,
    ) -> None:
        """Record a failed, unknown or retried attempt with the error's cause and parameters."""
        values = _error_values(error) | {
            "status": status,
            "lease_until": None,
            "next_attempt_at": retry_at,
        }
        if counts_attempt:
            values["attempts"] = row.attempts + 1
        self._write(row, lambda: _held(self.worker, _FROM_HELD, pk=row.id).update(**values))

    def pending_state(self) -> dict[str, Any]:
        """Return the job's pending rows, queued rows and its next due retry (one query)."""
        return OutgoingMail.objects.filter(
            job_id=self.job_id, status__in=PENDING_STATUSES
        ).aggregate(
            pending=Count("id"),
            queued=Count("id", filter=Q(status=MailStatus.QUEUED)),
            next_retry=Min("next_attempt_at", filter=Q(status=MailStatus.RETRY)),
        )
