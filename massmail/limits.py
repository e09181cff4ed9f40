"""Provider sending limits shared by every worker (their counters: massmail.stores).

Each mailbox has sliding windows (messages per minute, recipients per day), a semaphore for
its concurrent connections whose slots expire (a killed worker cannot leak one), and a pause
that a quota answer sets until the provider's window has passed. Celery's own `rate_limit`
counts per worker process only, which is not what providers count.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from massmail.stores import LimitStore, limit_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderLimit:
    """The limits of one provider; each mailbox on it is counted apart."""

    name: str
    hosts: tuple[str, ...]
    rates: tuple[tuple[int, float], ...]
    connections: int
    quota_pause: float

    def matches(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in self.hosts)

    @property
    def min_interval(self) -> float:
        """Return the average spacing of messages the tightest window allows (0: unlimited)."""
        return max((seconds / count for count, seconds in self.rates), default=0.0)

    @property
    def per_second(self) -> float | None:
        """Return the messages a second the tightest window allows on average (None: no limit)."""
        interval = self.min_interval
        return 1 / interval if interval else None


def _limit_parse(entry: Mapping[str, Any]) -> ProviderLimit:
    try:
        limit = ProviderLimit(
            name=str(entry["name"]),
            hosts=tuple(str(host) for host in entry["hosts"]),
            rates=tuple((int(count), float(seconds)) for count, seconds in entry.get("rates", ())),
            connections=int(entry.get("connections", 4)),
            quota_pause=float(entry.get("quota_pause", 3600)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"MAILER_PROVIDER_LIMITS: entry {entry!r} is malformed ({exc}); each entry needs "
            "name, hosts and optionally rates [[count, seconds], ...], connections, quota_pause"
        ) from exc
    if limit.connections < 1 or any(count < 1 or seconds <= 0 for count, seconds in limit.rates):
        raise ImproperlyConfigured(
            f"MAILER_PROVIDER_LIMITS: {limit.name} needs connections >= 1 and positive rates"
        )
    return limit


def provider_limits() -> tuple[ProviderLimit, ...]:
    """Return the configured limits (settings.MAILER_PROVIDER_LIMITS)."""
    entries: Sequence[Mapping[str, Any]] = settings.MAILER_PROVIDER_LIMITS
    return tuple(_limit_parse(entry) for entry in entries)


def provider_limit_for(host: str) -> ProviderLimit:
    """Return the limits of the first provider whose host pattern matches (else no limits)."""
    for limit in provider_limits():
        if limit.matches(host):
            return limit
    return ProviderLimit("unlimited", ("*",), (), 4, 3600.0)


def sender_key(*, host: str, mailbox: str) -> str:
    """Return the Redis name of one mailbox on one server (no address in clear in Redis)."""
    digest = hashlib.sha256(f"{host.lower()}|{mailbox.lower()}".encode()).hexdigest()[:24]
    return f"mailer:sender:{digest}"


#: Granting against a window a little longer than the provider's: the provider counts a
#: message when it arrives, the limiter when it grants it, and a loaded machine puts tens of
#: milliseconds between the two (once 31 MAILs arrived within a 30-per-window).
RATE_WINDOW_MARGIN = 0.05
RATE_WINDOW_MARGIN_MAX = 1.0


class SenderLimiter:
    """The limits of one mailbox as one dispatcher uses them: a slot, then a rate per message."""

    def __init__(
        self, *, host: str, mailbox: str, store: LimitStore | None = None, slot_ttl: float = 0
    ) -> None:
        self.limit = provider_limit_for(host)
        self.key = sender_key(host=host, mailbox=mailbox)
        self.store = store or limit_store()
        self.slot_ttl = slot_ttl or float(settings.MAILER_SLOT_TTL)
        self.token = uuid.uuid4().hex
        self.holding = False

    @property
    def _slots_key(self) -> str:
        return f"{self.key}:slots"

    @property
    def _pause_key(self) -> str:
        return f"{self.key}:paused"

    def slot_acquire(self) -> bool:
        """Take (or refresh) one of the mailbox's connection slots; False when all are taken."""
        self.holding = self.store.slot_take(
            self._slots_key, self.token, self.limit.connections, self.slot_ttl
        )
        return self.holding

    def slot_release(self) -> None:
        if self.holding:
            self.store.slot_release(self._slots_key, self.token)
            self.holding = False

    def slots_in_use(self) -> int:
        return self.store.slot_count(self._slots_key)

    def rate_wait(self) -> float:
        """Count one message if every window allows it now; else return the seconds to wait.

        Each window is granted a little longer than the provider's (RATE_WINDOW_MARGIN).
        """
        keys = [f"{self.key}:rate:{int(seconds)}:{count}" for count, seconds in self.limit.rates]
        windows = [
            (count, seconds + min(seconds * RATE_WINDOW_MARGIN, RATE_WINDOW_MARGIN_MAX))
            for count, seconds in self.limit.rates
        ]
        return self.store.rate_take(keys, windows)

    def pause(self, seconds: float | None = None) -> float:
        """Pause the mailbox (a quota answer) for its provider's quota window; return seconds."""
        seconds = self.limit.quota_pause if seconds is None else seconds
        self.store.pause_set(self._pause_key, seconds)
        return seconds

    def paused_for(self) -> float:
        """Return how many seconds the mailbox stays paused (0: not paused)."""
        return self.store.pause_left(self._pause_key)
