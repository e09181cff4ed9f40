"""Dispatching a job: claim a batch, send it over one connection, record each outcome.

The story is here; the parts are beside it: massmail.rows (the row states and their fence),
massmail.policy (what an error means for the row and the job), massmail.pacing (budget, slot,
rate) and massmail.jobstate (what a run writes on its job). The claim and loading the documents
are per batch; a group of rows is marked transmitting in one statement and its sent rows in
one more, so a message costs a fraction of a statement. A group is `MAILER_TRANSMIT_GROUP` (10)
rows for an unthrottled mailbox; for a rate-limited one it is its share of one second's
allowance, max(1, floor(A / C)) for A messages a second (the tightest window's average) over C
connections (massmail.pacing.Pacer.group_size): Zone-like 1 per 5 s, 1 connection: 1; Microsoft
365 30 a minute, 3 connections: 1; 10 a second, 3 connections: 3. Delivered rows are marked
`sent` when their group is done or, within a slow group, once the first of them has waited
`SENT_FLUSH` (1 s) (massmail.rows), so a job's counts move at least about once a second.

At most once: a row is marked transmitting before it can reach DATA and is put back only when
this run knows it never did. A worker killed outright (`kill -9`, or its hard time limit) leaves
at most one group `unknown` per pool process that was dispatching (the group in its hands, some
of it maybe delivered, some not yet sent): at most `MAILER_TRANSMIT_GROUP` for an unthrottled
mailbox, and for a rate-limited one, whose runs are at most its C connections, at most
C x max(1, floor(A / C)) over all its runs: no more than its per-second allowance A when A >= C,
else at most one per connection. A worker stopped with SIGTERM writes its sent rows and puts
back the rest, so it leaves none.

Runs share the pool round-robin: a run ends with SLICE when other dispatch tasks wait for a
process (after its first message for a job that has not started, else after a slice), and with
RATE_WAIT when its provider's allowance is more than a moment away; its task queues the next
run at the back, or for when the allowance comes (massmail.pacing, massmail.tasks).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from events.errors import UserFacingError
from mailer.events import mail_event_record_failure
from mailer.messages import message_envelope
from mailer.outages import DATABASE_ERRORS, database_retry, error_summary
from mailer.services import mail_transport_get, sender_config_get
from massmail.causes import MassMailCause
from massmail.conf import mass_mail_refusal, massmail_settings
from massmail.documents import DocumentError, DocumentKind, document_kind_get
from massmail.jobs import massmail_cancelled_rows_settle, massmail_job_finish_if_done
from massmail.jobstate import JobWatch, job_pause, job_start, job_wait_note
from massmail.limits import SenderLimiter
from massmail.models import JobStatus, MailStatus, MassMailJob
from massmail.pacing import Pacer
from massmail.policy import Decision, JobAction, Stage, decide
from massmail.queueing import massmail_dispatch_fill
from massmail.reaper import massmail_reap
from massmail.rows import ClaimedRow, RowLedger, massmail_claim
from massmail.shutdown import stop_requested
from massmail.stores import limit_store, limit_store_shared

if TYPE_CHECKING:
    from mailer.config import SenderConfig
    from mailer.transport import SmtpTransport

__all__ = [
    "DOCUMENT_GONE",
    "Dispatcher",
    "Outcome",
    "massmail_claim",
    "massmail_dispatch_run",
    "massmail_inline_run",
    "worker_name",
]

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """Why a dispatch run ended."""

    FINISHED = "finished"  # the job has no pending row left
    IDLE = "idle"  # nothing due now (future retries, or rows in other workers' hands)
    BUDGET = "budget"  # the time budget is spent and work is left: queue the next run
    SLICE = "slice"  # other dispatch tasks wait for a pool process: queue the next run behind
    RATE_WAIT = "rate_wait"  # the allowance (or a retry) comes in `resume_in` s: queue for then
    STOPPED = "stopped"  # the job is paused, cancelled or gone
    PAUSED = "paused"  # this run paused the job (authentication, settings)
    NO_SLOT = "no_slot"  # every connection of the mailbox is in use by other workers
    SENDER_PAUSED = "sender_paused"  # quota: the mailbox waits until its window passes
    SHUTDOWN = "shutdown"  # the worker is stopping: what is left goes to the next run
    DATABASE_DOWN = "database_down"  # the database stayed away longer than a lease


#: A row whose document was deleted after the job was created.
DOCUMENT_GONE = DocumentError(MassMailCause.DOCUMENT_DELETED)


def worker_name() -> str:
    """Return a name unique to this dispatch run: host, process and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Dispatcher:
    """One dispatch run of one job in one worker process."""

    def __init__(
        self, *, job_id: int, worker: str = "", budget: float | None = None, pooled: bool = True
    ) -> None:
        self.job_id = job_id
        #: A run in a worker's pool shares it with other jobs' runs (hands back, queues more);
        #: an inline run (development, commands) sends until done, and so does every run when
        #: the limit store is this process's memory (no Redis: no other run's notes are seen).
        self.pooled = pooled and limit_store_shared()
        self.worker = worker or worker_name()
        self.conf = massmail_settings()
        self.budget = self.conf.budget if budget is None else budget
        self.rows = RowLedger(job_id=job_id, worker=self.worker, lease=self.conf.lease)
        self.watch = JobWatch(job_id=job_id)
        self.sent = 0
        #: Rows marked "transmitting" at once (massmail.pacing.Pacer.group_size).
        self.group = self.conf.transmit_group
        #: Messages this run tried (sent or not): a run hands its process back only after one.
        self.attempted = 0
        #: After RATE_WAIT: the seconds until the provider allows the next message.
        self.resume_in = 0.0
        self.job: MassMailJob
        self.config: SenderConfig
        self.documents: DocumentKind
        self.pacer: Pacer
        self.transport: SmtpTransport | None = None

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> Outcome:
        massmail_reap()
        job = MassMailJob.objects.select_related("owner").filter(pk=self.job_id).first()
        if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return Outcome.STOPPED
        self.job = job
        self.documents = document_kind_get(job.document_kind)
        self.config = sender_config_get(card=job.owner)
        refusal = mass_mail_refusal(self.config)
        if refusal is not None:
            job_pause(job_id=self.job_id, error=refusal)
            return Outcome.PAUSED
        job_start(job=job)
        limiter = SenderLimiter(
            host=self.config.host, mailbox=self.config.username or self.config.envelope_from
        )
        if limiter.paused_for() > 0:
            job_wait_note(job_id=self.job_id, seconds=limiter.paused_for())
            return Outcome.SENDER_PAUSED
        self.pacer = Pacer(
            job_id=self.job_id,
            worker=self.worker,
            conf=self.conf,
            budget=self.budget,
            limiter=limiter,
            store=limit_store(),
            on_slot_lost=self._disconnect,
        )
        try:
            if not self.pacer.start():
                return Outcome.NO_SLOT
            return self._loop()
        except Exception:
            # Redis went away, a time limit, a bug: what this run claimed but did not transmit
            # goes back to the queue now rather than when its lease runs out.
            with contextlib.suppress(*DATABASE_ERRORS):
                self.rows.recover()
            raise
        finally:
            self._disconnect()
            self.pacer.stop()

    def _loop(self) -> Outcome:
        batch_size = self.pacer.batch_size()
        self.group = self.pacer.group_size()
        filled = False
        while True:
            if self.pacer.budget_spent():
                return Outcome.BUDGET
            if stop_requested():
                return Outcome.SHUTDOWN
            if self._hand_back():
                return Outcome.SLICE
            self.pacer.keepalive()
            try:
                # While other runs wait for a process, this one claims only what it may send.
                waiting = self.pooled and self.pacer.others_waiting()
                batch = self.rows.claim(
                    limit=min(batch_size, self.group) if waiting else batch_size
                )
                if batch and not filled and self.pooled:
                    filled = True
                    # No more runs than the mailbox has connections: another would wait.
                    massmail_dispatch_fill(
                        job_id=self.job_id, most=self.pacer.limiter.limit.connections
                    )
                outcome = self._send_batch(batch) if batch else self._when_nothing_claimed()
            except DATABASE_ERRORS as exc:
                outcome = self._database_outage(exc)
            if outcome is not None:
                return outcome

    def _database_outage(self, error: Exception) -> Outcome | None:
        """Wait for the database (a lease at most), put back what was not sent, go on.

        Each outcome already written, or replayed by the row ledger, stands. None: claim again.
        """
        logger.warning(
            "Mass-mail job %s: the database is unreachable (%s); waiting for it",
            self.job_id,
            error_summary(error),
        )
        self._disconnect()  # the SMTP session may be mid-transaction
        try:
            back = database_retry(self.rows.recover, until=time.monotonic() + self.conf.lease)
        except DATABASE_ERRORS:
            # Claimed rows go back to the queue and transmitting ones become `unknown` when
            # their leases run out (the reaper); the tick starts the next run.
            return Outcome.DATABASE_DOWN
        logger.info(
            "Mass-mail job %s: the database is back; %s rows queued again", self.job_id, back
        )
        return None

    def _when_nothing_claimed(self) -> Outcome | None:
        """Finish the job, wait a little for a due retry (None: claim again), or stop."""
        state = self.rows.pending_state()
        if not state["pending"]:
            massmail_job_finish_if_done(job_id=self.job_id)
            return Outcome.FINISHED
        if state["queued"] or not self.watch.running(force=True):
            # Queued rows that could not be claimed: the job is no longer running.
            return Outcome.STOPPED
        next_retry = state["next_retry"]
        if next_retry is None:
            return Outcome.IDLE  # the rest is in other workers' hands
        wait = (next_retry - timezone.now()).total_seconds()
        if wait > min(self.conf.inline_wait, self.pacer.budget_left()):
            return Outcome.IDLE
        if self.pooled and wait > self.conf.slice / 2:
            # Not in the pool process: the next run is queued for when the retry is due.
            self.resume_in = wait
            return Outcome.RATE_WAIT
        time.sleep(max(0.02, wait))
        return None

    def _send_batch(self, batch: list[ClaimedRow]) -> Outcome | None:
        by_id = self.documents.load(card=self.job.owner, ids=[row.document_id for row in batch])
        size = min(self.group, len(batch))
        for start in range(0, len(batch), size):
            outcome = self._send_group(batch[start : start + size], by_id)
            if outcome is not None:
                self.rows.release(batch[start + size :])
                return outcome
        return None

    def _send_group(self, claimed: list[ClaimedRow], by_id: Mapping[int, Any]) -> Outcome | None:
        """Mark the group transmitting (one statement), send it, mark its sent rows (one, or
        one more each SENT_FLUSH seconds while the group is slow)."""
        group = self.rows.transmitting(claimed)
        for index, row in enumerate(group):
            if self.rows.flush_due():
                self.rows.flush()
            outcome = self._between_messages()
            if outcome is not None:
                return self._group_end(group[index:], outcome)
            document = by_id.get(row.document_id)
            if document is None:
                self._settle(row, DOCUMENT_GONE, stage=Stage.BUILD)
                continue
            outcome = self._send_one(row, document)
            if outcome is not None:
                return self._group_end(group[index + 1 :], outcome)
        self.rows.flush()
        return None

    def _group_end(self, unsent: list[ClaimedRow], outcome: Outcome) -> Outcome:
        """Mark what was sent, put back what was not, and end the run with `outcome`."""
        self.rows.flush()
        self.rows.release(unsent)
        if outcome is Outcome.STOPPED and unsent:
            massmail_cancelled_rows_settle(job_id=self.job_id)
        return outcome

    def _between_messages(self) -> Outcome | None:
        if stop_requested():
            return Outcome.SHUTDOWN
        if not self.watch.running():
            return Outcome.STOPPED
        if self._hand_back():
            return Outcome.SLICE
        return None

    def _hand_back(self) -> bool:
        return self.pooled and self.pacer.hand_back(attempted=self.attempted)

    def _send_one(self, row: ClaimedRow, document: Any) -> Outcome | None:
        self.attempted += 1
        try:
            message = self.documents.message_build(
                document,
                config=self.config,
                subject_template=self.job.subject_template,
                body_template=self.job.body_template,
                message_id=row.message_id,
            )
            envelope_from, recipients, raw = message_envelope(message, self.config)
        except UserFacingError as exc:
            return self._settle(row, exc, stage=Stage.BUILD)
        try:
            # Connected before the allowance is taken: the provider counts the message when it
            # arrives, so no handshake may come between the grant and the MAIL command.
            if self.transport is None:
                self.transport = mail_transport_get(config=self.config)
            self.transport.open()
        except UserFacingError as exc:
            return self._settle(row, exc, stage=Stage.SEND)
        hold = self.pacer.rate_take()
        if hold is not None:
            self.rows.release([row])
            if hold.sender_pause:
                job_wait_note(job_id=self.job_id, seconds=hold.sender_pause)
                return Outcome.SENDER_PAUSED
            self.resume_in = hold.countdown
            return Outcome.RATE_WAIT
        try:
            before_data = self.rows.at_data_marker(row)
            self.transport.send(envelope_from, recipients, raw, before_data=before_data)
        except UserFacingError as exc:
            return self._settle(row, exc, stage=Stage.SEND)
        self.sent += 1
        self.rows.sent(row)
        return None

    # -- outcomes ---------------------------------------------------------------------------

    def _settle(self, row: ClaimedRow, error: UserFacingError, *, stage: Stage) -> Outcome | None:
        """Carry out the policy's decision on a failed message: row, event, then the job."""
        decision = decide(error, attempts=row.attempts, conf=self.conf, stage=stage)
        pause = 0.0
        if decision.job_action is JobAction.SENDER_PAUSE:
            pause = self.pacer.limiter.pause()
        self._row_settle(row, error, decision, pause=pause)
        if decision.record_event:
            mail_event_record_failure(
                card=self.job.owner,
                error=error,
                recipient=row.recipient,
                message_id=row.message_id if decision.event_names_message else "",
            )
        if decision.job_action is JobAction.PAUSE:
            job_pause(job_id=self.job_id, error=error)
            return Outcome.PAUSED
        if decision.job_action is JobAction.SENDER_PAUSE:
            job_wait_note(job_id=self.job_id, seconds=pause, error=error)
            return Outcome.SENDER_PAUSED
        return None

    def _row_settle(
        self, row: ClaimedRow, error: UserFacingError, decision: Decision, *, pause: float
    ) -> None:
        if decision.row_status == MailStatus.QUEUED:
            self.rows.release([row])
            return
        retry_in = pause if decision.job_action is JobAction.SENDER_PAUSE else decision.retry_in
        self.rows.outcome(
            row,
            error,
            status=decision.row_status,
            retry_at=None if retry_in is None else timezone.now() + timedelta(seconds=retry_in),
            counts_attempt=decision.counts_attempt,
        )

    def _disconnect(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


def massmail_dispatch_run(*, job_id: int, budget: float | None = None) -> Outcome:
    """Send a job's due rows in this process until done, idle, stopped, out of budget or
    handing the process back to another job."""
    return Dispatcher(job_id=job_id, budget=budget).run()


def massmail_inline_run(*, job_id: int, timeout: float | None = None) -> Outcome:
    """Dispatch a whole job in this process (development, small jobs); no worker needed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        dispatcher = Dispatcher(job_id=job_id, pooled=False)
        outcome = dispatcher.run()
        if outcome in (Outcome.FINISHED, Outcome.STOPPED, Outcome.PAUSED):
            return outcome
        if deadline is not None and time.monotonic() > deadline:
            return outcome
        if outcome is Outcome.RATE_WAIT:
            time.sleep(dispatcher.resume_in)
        elif outcome not in (Outcome.BUDGET, Outcome.SLICE):
            time.sleep(0.5)
