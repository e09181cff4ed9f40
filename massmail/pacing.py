"""Pacing one dispatch run: its time budget, its slice, the mailbox's connection slot and rate.

The limits live in the shared limit store (massmail.stores), so every worker sending as one
mailbox stays within its provider's limits together. A run waits inline only for a moment
(half a slice); a longer rate wait ends the run, whose task is queued again for when the
allowance comes, and a very long one pauses the mailbox.

Pool processes are shared round-robin: once a run has sent for a slice
(`MAILER_DISPATCH_SLICE_SECONDS`, or `MAILER_DISPATCH_SLICE_MESSAGES` messages, whichever comes
first) and another dispatch task waits for a process, the run hands
its process back (its task is queued again at the back); a job that has not sent yet gets a
process after the running ones' next message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from massmail.conf import MassMailSettings
from massmail.limits import SenderLimiter
from massmail.stores import FRESH_KEY, QUEUED_TTL, WAITING_KEY, LimitStore, job_registry_key

#: Slots of the job's dispatcher registry (the tick counts them); not a limit.
_REGISTRY_SIZE = 10_000
#: Seconds between looks at the tasks waiting for a pool process.
HAND_BACK_LOOK = 0.05


@dataclass(frozen=True)
class RateHold:
    """The next message's allowance is too far off for this run to wait for it.

    `sender_pause` > 0: the mailbox is paused that long (every worker waits); else the
    allowance comes in `countdown` seconds, and the next run then.
    """

    sender_pause: float = 0.0
    countdown: float = 0.0


class Pacer:
    """The clock, the connection slot and the rate of one dispatch run."""

    def __init__(
        self,
        *,
        job_id: int,
        worker: str,
        conf: MassMailSettings,
        budget: float,
        limiter: SenderLimiter,
        store: LimitStore,
        on_slot_lost: Callable[[], None],
    ) -> None:
        self.worker = worker
        self.conf = conf
        self.budget = budget
        self.started = time.monotonic()
        self.limiter = limiter
        self.store = store
        self.registry_key = job_registry_key(job_id)
        self.on_slot_lost = on_slot_lost
        self._next_look = 0.0
        self._over_seen = False

    # -- the clock --------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def budget_spent(self) -> bool:
        return self.elapsed() > self.budget

    def budget_left(self) -> float:
        return self.budget - self.elapsed()

    def others_waiting(self) -> bool:
        """Return whether any other dispatch task waits for a pool process now."""
        return bool(
            self.store.waiting_due(FRESH_KEY, QUEUED_TTL)
            or self.store.waiting_due(WAITING_KEY, QUEUED_TTL)
        )

    def hand_back(self, *, attempted: int) -> bool:
        """Return whether to give the pool process back to a waiting dispatch task.

        After this run's first message when a job that has not started waits; after the slice
        (its seconds or its messages) when any waits. Looks at most every HAND_BACK_LOOK
        seconds, and once as the slice ends.
        """
        if not attempted:
            return False
        now = time.monotonic()
        over = self.elapsed() >= self.conf.slice or attempted >= self.conf.slice_messages
        if now < self._next_look and (self._over_seen or not over):
            return False
        self._over_seen = over
        self._next_look = now + HAND_BACK_LOOK
        if self.store.waiting_due(FRESH_KEY, QUEUED_TTL):
            return True
        return over and bool(self.store.waiting_due(WAITING_KEY, QUEUED_TTL))

    # -- the connection slot ----------------------------------------------------------------

    def start(self) -> bool:
        """Register this run with the job and take a connection slot; False: none came free.

        Waits for a slot at most a slice: the mailbox's connections are busy with the job's
        other runs, and the pool process is better given to another job.
        """
        self._register()
        return self.slot_wait(min(self.conf.slot_wait, self.conf.slice))

    def stop(self) -> None:
        """Give back the slot and leave the job's registry."""
        self.limiter.slot_release()
        self.store.slot_release(self.registry_key, self.worker)

    def slot_wait(self, seconds: float | None = None) -> bool:
        deadline = time.monotonic() + (self.conf.slot_wait if seconds is None else seconds)
        while not self.limiter.slot_acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1 + random.uniform(0, 0.2))  # noqa: S311
        return True

    def _register(self) -> None:
        self.store.slot_take(self.registry_key, self.worker, _REGISTRY_SIZE, self.limiter.slot_ttl)

    def keepalive(self) -> None:
        """Renew the registration and the slot; a lost slot drops the connection first."""
        self._register()
        if not self.limiter.slot_acquire():
            # Our slot expired (a long stall) and others took it: never exceed the limit.
            self.on_slot_lost()
            self.slot_wait()

    # -- the rate ---------------------------------------------------------------------------

    def batch_size(self) -> int:
        """Return a batch small enough to be sent within its lease at the provider's pace."""
        interval = self.limiter.limit.min_interval
        if not interval:
            return self.conf.batch_size
        return max(1, min(self.conf.batch_size, int(self.conf.lease / (2 * interval))))

    def group_size(self) -> int:
        """Return how many rows to mark "transmitting" at once (at least one).

        `MAILER_TRANSMIT_GROUP` for an unthrottled mailbox; for a rate-limited one no more than
        its share of what the provider allows in one second (its allowance a second over its
        connections), so a group is on the wire within about a second and a worker killed
        outright leaves no more `unknown` rows per mailbox than it may send in a second.
        """
        group = self.conf.transmit_group
        per_second = self.limiter.limit.per_second
        if per_second is None:
            return group
        return max(1, min(group, int(per_second / self.limiter.limit.connections + 1e-9)))

    def rate_take(self) -> RateHold | None:
        """Take the provider's allowance for one message, waiting for it if that is a moment."""
        while True:
            wait = self.limiter.rate_wait()
            if not wait:
                return None
            if wait > self.conf.inline_wait:
                self.limiter.pause(wait)
                return RateHold(sender_pause=wait)
            if wait > self.conf.slice / 2:
                return RateHold(countdown=wait)
            time.sleep(wait)
            self.keepalive()
