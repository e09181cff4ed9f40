"""A job's rows in one worker's hands: claim, put back, mark transmitting, record the outcome.

Every write after the claim goes through one fence (`_held`): the row must still be claimed by
this worker and in a state the transition starts from. A row that the reaper queued again, a
cancel failed or another worker reclaimed is left alone.

Rows go to the server in groups (`MAILER_TRANSMIT_GROUP`, 10, fewer for a rate-limited mailbox:
massmail.pacing.Pacer.group_size): one fenced statement marks a group "transmitting" before its
first message, and one statement marks `sent` every row of the group whose DATA got its 250
(`flush`), when the group is done or once the first of them has waited SENT_FLUSH (1 s); a
failure is written on its own. Once marked, only the
reaper touches a row (when its lease runs out, it becomes `unknown`), so the fence at the mark
is the fence at DATA. The ledger remembers in memory which rows it gave to DATA: a row it
marked but never gave to DATA goes back to the queue (a pause, a SIGTERM, the end of a slice,
a database outage); a row given to DATA whose outcome is not written stays "transmitting". So
a worker killed outright leaves at most one group per pool process `unknown`.

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
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone

from events.errors import UserFacingError
from mailer.exceptions import MailDeliveryError
from mailer.outages import database_retry
from massmail.models import PENDING_STATUSES, JobStatus, MailStatus, MassMailJob, OutgoingMail

#: Seconds a delivered row waits at most for its `sent` mark within a group (the job's progress
#: moves at least this often while its messages go out, however slowly).
SENT_FLUSH = 1.0
#: The states each transition starts from; a row in any other state is not this worker's.
_FROM_CLAIMED = (MailStatus.CLAIMED,)
_FROM_TRANSMITTED = (MailStatus.TRANSMITTING, MailStatus.UNKNOWN)
# UNKNOWN: the reaper gave up on a slow transmission whose answer then came; the answer wins.
_FROM_HELD = (MailStatus.CLAIMED, MailStatus.TRANSMITTING, MailStatus.UNKNOWN)
# Rows a worker may put back: only ever those it knows it did not give to DATA.
_FROM_MARKED = (MailStatus.CLAIMED, MailStatus.TRANSMITTING)


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    document_id: int
    recipient: str
    message_id: str
    attempts: int


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
    """Put rows this worker claimed or marked, but never gave to DATA, back in the queue."""
    if not ids:
        return 0
    return _held(worker, _FROM_MARKED, pk__in=ids).update(
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
        #: Rows given to the server's DATA whose outcome is not written: never put back.
        self._at_data: set[int] = set()
        #: Rows whose DATA got 250, marked `sent` together by `flush`.
        self._sent: list[ClaimedRow] = []
        #: When the first of them got its 250 (time.monotonic()): `flush_due` after SENT_FLUSH.
        self._sent_since = 0.0

    def claim(self, *, limit: int) -> list[ClaimedRow]:
        started = time.monotonic()
        rows = massmail_claim(job_id=self.job_id, worker=self.worker, limit=limit, lease=self.lease)
        self._lease_ends.update((row.id, started + self.lease) for row in rows)
        return rows

    def release(self, rows: Collection[ClaimedRow]) -> None:
        """Put back rows this run holds and never gave to DATA."""
        ids = [row.id for row in rows if row.id not in self._at_data]
        massmail_release(ids=ids, worker=self.worker)
        for row_id in ids:
            self._lease_ends.pop(row_id, None)

    def transmitting(self, rows: list[ClaimedRow]) -> list[ClaimedRow]:
        """Mark a group "transmitting" in one statement; return the rows still this run's.

        A database error propagates: whatever the statement may have marked never reached DATA,
        and `recover` puts it back.
        """
        if not rows:
            return []
        started = time.monotonic()
        lease_until = timezone.now() + timedelta(seconds=self.lease)
        ids = [row.id for row in rows]
        marked = _held(self.worker, _FROM_CLAIMED, pk__in=ids).update(
            status=MailStatus.TRANSMITTING, lease_until=lease_until
        )
        if marked != len(ids):
            # Reaped, reclaimed or cancelled meanwhile: those rows are not sent by this run.
            mine = set(
                _held(self.worker, (MailStatus.TRANSMITTING,), pk__in=ids).values_list(
                    "pk", flat=True
                )
            )
            for row in rows:
                if row.id not in mine:
                    self._lease_ends.pop(row.id, None)
            rows = [row for row in rows if row.id in mine]
        self._lease_ends.update((row.id, started + self.lease) for row in rows)
        return rows

    def at_data_marker(self, row: ClaimedRow) -> Callable[[], None]:
        """Return the transport's `before_data`: remember that the row went to DATA."""
        return lambda: self._at_data.add(row.id)

    def _write(self, ids: Collection[int], write: Callable[[], object]) -> None:
        """Write outcomes; through a database outage, again until the first lease runs out."""
        fallback = time.monotonic() + self.lease
        # A margin: the mark lands before the reaper's look at the expired lease.
        until = min(self._lease_ends.get(i, fallback) for i in ids) - self.lease / 10
        database_retry(write, until=until)
        for row_id in ids:
            self._lease_ends.pop(row_id, None)
            self._at_data.discard(row_id)

    def sent(self, row: ClaimedRow) -> None:
        """Note that the server took the row's message; `flush` writes it."""
        if not self._sent:
            self._sent_since = time.monotonic()
        self._sent.append(row)

    def flush_due(self) -> bool:
        """Return whether a row has waited SENT_FLUSH seconds for its `sent` mark."""
        return bool(self._sent) and time.monotonic() - self._sent_since >= SENT_FLUSH

    def flush(self) -> None:
        """Mark `sent`, in one statement, every row whose message the server took."""
        if not self._sent:
            return
        ids = [row.id for row in self._sent]
        self._write(
            ids,
            lambda: _held(self.worker, _FROM_TRANSMITTED, pk__in=ids).update(
                status=MailStatus.SENT,
                sent_at=timezone.now(),
                attempts=F("attempts") + 1,
                lease_until=None,
                cause="",
                params={},
                user_message="",
                smtp_code=None,
            ),
        )
        self._sent = []

    def recover(self) -> int:
        """After a database outage or an error: write what was sent, put back what was not.

        Rows given to DATA whose outcome could not be written stay "transmitting": the reaper
        makes them `unknown`. Every other row this run claimed or marked never reached DATA
        and goes back to the queue. Return how many went back.
        """
        self.flush()
        held = _held(self.worker, _FROM_MARKED, job_id=self.job_id)
        if self._at_data:
            held = held.exclude(pk__in=self._at_data)
        back = held.update(status=MailStatus.QUEUED, claimed_by="", lease_until=None)
        self._lease_ends = {i: end for i, end in self._lease_ends.items() if i in self._at_data}
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
        self._write([row.id], lambda: _held(self.worker, _FROM_HELD, pk=row.id).update(**values))

    def pending_state(self) -> dict[str, Any]:
        """Return the job's pending rows, queued rows and its next due retry (one query)."""
        return OutgoingMail.objects.filter(
            job_id=self.job_id, status__in=PENDING_STATUSES
        ).aggregate(
            pending=Count("id"),
            queued=Count("id", filter=Q(status=MailStatus.QUEUED)),
            next_retry=Min("next_attempt_at", filter=Q(status=MailStatus.RETRY)),
        )
