"""Pacing one dispatch run: its time budget, the mailbox's connection slot and message rate.

The limits live in the shared limit store (massmail.limits), so every worker sending as one
mailbox stays within its provider's limits together. A run waits inline only for short waits;
a long one pauses the mailbox and ends the run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from massmail.conf import MassMailSettings
from massmail.limits import LimitStore, SenderLimiter

#: Slots of the job's dispatcher registry (the tick counts them); not a limit.
_REGISTRY_SIZE = 10_000


@dataclass(frozen=True)
class RateHold:
    """The next message's allowance is too far off for this run to wait for it.

    `sender_pause` > 0: the mailbox is paused that long (every worker waits); 0: this run's
    budget ends before the allowance comes.
    """

    sender_pause: float = 0.0


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
        self.registry_key = f"massmail:job:{job_id}:dispatchers"
        self.on_slot_lost = on_slot_lost

    # -- the clock --------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def budget_spent(self) -> bool:
        return self.elapsed() > self.budget

    def budget_left(self) -> float:
        return self.budget - self.elapsed()

    # -- the connection slot ----------------------------------------------------------------

    def start(self) -> bool:
        """Register this run with the job and take a connection slot; False: none came free."""
        self._register()
        return self.slot_wait()

    def stop(self) -> None:
        """Give back the slot and leave the job's registry."""
        self.limiter.slot_release()
        self.store.slot_release(self.registry_key, self.worker)

    def slot_wait(self) -> bool:
        deadline = time.monotonic() + self.conf.slot_wait
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

    def rate_take(self) -> RateHold | None:
        """Take the provider's allowance for one message, waiting for it if that is short."""
        while True:
            wait = self.limiter.rate_wait()
            if not wait:
                return None
            if wait > self.conf.inline_wait:
                self.limiter.pause(wait)
                return RateHold(sender_pause=wait)
            if wait > self.budget_left() + self.conf.lease / 2:
                return RateHold()
            time.sleep(wait)
            self.keepalive()
