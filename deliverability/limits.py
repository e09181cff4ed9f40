"""The event mailbox's limits per client: open connections, messages a minute, message size."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

#: Messages are counted over this sliding window (seconds).
RATE_WINDOW = 60.0
#: Past this many tracked clients, clients with nothing recent are forgotten.
TRACKED_CLIENTS = 10_000


@dataclass(frozen=True)
class MailboxLimits:
    """What one client may do at once and per minute, and how large a message may be."""

    connections_per_client: int
    messages_per_minute: int
    max_message_size: int


def _positive(name: str) -> int:
    value = getattr(settings, name, None)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1 (got {value!r}).")
    return value


def mailbox_limits_get() -> MailboxLimits:
    """Return the event mailbox limits, read from settings at call time."""
    return MailboxLimits(
        connections_per_client=_positive("EVENT_MAILBOX_CONNECTIONS_PER_CLIENT"),
        messages_per_minute=_positive("EVENT_MAILBOX_MESSAGES_PER_MINUTE"),
        max_message_size=_positive("EVENT_MAILBOX_MAX_MESSAGE_SIZE"),
    )


class ClientThrottle:
    """Counters per client address: connections open now and messages in the last minute.

    One receiver owns one throttle and uses it only from its event loop, so it needs no lock.
    The counts live in the receiver's process (one event mailbox process per address/port).
    """

    def __init__(
        self,
        limits: MailboxLimits,
        *,
        window: float = RATE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.window = window
        self._clock = clock
        self._open: defaultdict[str, int] = defaultdict(int)
        self._recent: dict[str, deque[float]] = {}

    def connection_open(self, client: str) -> bool:
        """Count a new connection of the client; return False (not counted) when over the cap."""
        if self._open[client] >= self.limits.connections_per_client:
            return False
        self._open[client] += 1
        return True

    def connections(self, client: str) -> int:
        """Return how many connections of the client are open now."""
        return self._open.get(client, 0)

    def connection_close(self, client: str) -> None:
        """Forget one connection of the client."""
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]

    def _times(self, client: str) -> deque[float]:
        times = self._recent.get(client)
        if times is None:
            if len(self._recent) >= TRACKED_CLIENTS:
                self._forget_idle()
            times = self._recent[client] = deque()
        horizon = self._clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        return times

    def _forget_idle(self) -> None:
        horizon = self._clock() - self.window
        for client in [c for c, times in self._recent.items() if not times or times[-1] <= horizon]:
            del self._recent[client]

    def message_allowed(self, client: str) -> bool:
        """Return whether the client may start another message now (nothing is counted)."""
        return len(self._times(client)) < self.limits.messages_per_minute

    def message_take(self, client: str) -> bool:
        """Count one message of the client; return False (not counted) when over the rate."""
        times = self._times(client)
        if len(times) >= self.limits.messages_per_minute:
            return False
        times.append(self._clock())
        return True
