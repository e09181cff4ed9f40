"""Provider sending limits shared by every worker, kept in Redis.

Each mailbox has sliding windows (messages per minute, recipients per day), a semaphore for
its concurrent connections whose slots expire (a killed worker cannot leak one), and a pause
that a quota answer sets until the provider's window has passed. Celery's own `rate_limit`
counts per worker process only, which is not what providers count.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

try:
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - Redis is a dependency; the local store needs none
    RedisError = OSError  # type: ignore[assignment,misc]

#: What a limit store raises when its Redis is away.
LIMIT_STORE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)

_RATE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count + cost > limit then
    local index = count + cost - limit - 1
    local entry = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
    local w = window
    if entry[2] then w = tonumber(entry[2]) + window - now end
    if w < 1 then w = 1 end
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 + 2 * i])
  for c = 1, cost do redis.call('ZADD', key, now, ARGV[2] .. ':' .. c) end
  redis.call('PEXPIRE', key, window)
end
return 0
"""

_SLOT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
return 0
"""

_WAITING_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return redis.call('ZCOUNT', KEYS[1], '-inf', now)
"""

_NOTE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]))
return 1
"""

_COUNT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


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


def job_registry_key(job_id: int) -> str:
    """Return the set of a job's dispatch runs: running ones and queued ones (the tick counts)."""
    return f"massmail:job:{job_id}:dispatchers"


#: Dispatch tasks queued and due, waiting for a pool process (a running run hands its process
#: back when any wait); the first runs of jobs that have not sent yet are counted apart.
WAITING_KEY = "massmail:waiting"
FRESH_KEY = "massmail:waiting:fresh"
#: How long a queued dispatch task counts as waiting, and as one of its job's runs, at most.
QUEUED_TTL = 300.0


class LimitStore(Protocol):
    """Where limit state lives: Redis in production, process memory without a Redis broker."""

    def rate_take(self, keys: Sequence[str], windows: Sequence[tuple[int, float]]) -> float: ...
    def slot_take(self, key: str, token: str, maximum: int, ttl: float) -> bool: ...
    def slot_release(self, key: str, token: str) -> None: ...
    def slot_count(self, key: str) -> int: ...
    def pause_set(self, key: str, seconds: float) -> None: ...
    def pause_left(self, key: str) -> float: ...
    def flag_set(self, key: str, seconds: float) -> bool: ...
    def waiting_note(self, key: str, token: str, due_in: float, ttl: float) -> None: ...
    def waiting_drop(self, key: str, token: str) -> None: ...
    def waiting_due(self, key: str, stale: float) -> int: ...


class RedisLimitStore:
    """Limit state in Redis: Lua scripts make every check-and-take atomic across workers."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._rate = self.client.register_script(_RATE_SCRIPT)
        self._slot = self.client.register_script(_SLOT_SCRIPT)
        self._count = self.client.register_script(_COUNT_SCRIPT)
        self._waiting = self.client.register_script(_WAITING_SCRIPT)
        self._note = self.client.register_script(_NOTE_SCRIPT)

    def rate_take(self, keys: Sequence[str], windows: Sequence[tuple[int, float]]) -> float:
        if not keys:
            return 0.0
        args: list[Any] = [1, uuid.uuid4().hex]
        for count, seconds in windows:
            args += [count, int(seconds * 1000)]
        return int(self._rate(keys=list(keys), args=args)) / 1000

    def slot_take(self, key: str, token: str, maximum: int, ttl: float) -> bool:
        return bool(self._slot(keys=[key], args=[maximum, token, int(ttl * 1000)]))

    def slot_release(self, key: str, token: str) -> None:
        self.client.zrem(key, token)

    def slot_count(self, key: str) -> int:
        return int(self._count(keys=[key]))

    def pause_set(self, key: str, seconds: float) -> None:
        self.client.set(key, "1", px=max(1, int(seconds * 1000)))

    def pause_left(self, key: str) -> float:
        left = int(self.client.pttl(key))
        return left / 1000 if left > 0 else 0.0

    def flag_set(self, key: str, seconds: float) -> bool:
        return bool(self.client.set(key, "1", nx=True, px=max(1, int(seconds * 1000))))

    def waiting_note(self, key: str, token: str, due_in: float, ttl: float) -> None:
        self._note(keys=[key], args=[token, int(due_in * 1000), int(ttl * 1000)])

    def waiting_drop(self, key: str, token: str) -> None:
        self.client.zrem(key, token)

    def waiting_due(self, key: str, stale: float) -> int:
        return int(self._waiting(keys=[key], args=[int(stale * 1000)]))


class LocalLimitStore:
    """The same state in this process only: development without Redis (one worker process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, list[float]] = {}
        self._slots: dict[str, dict[str, float]] = {}
        self._expiry: dict[str, float] = {}
        self._waiting: dict[str, dict[str, float]] = {}

    def rate_take(self, keys: Sequence[str], windows: Sequence[tuple[int, float]]) -> float:
        with self._lock:
            now, wait = time.monotonic(), 0.0
            for key, (count, seconds) in zip(keys, windows, strict=True):
                stamps = [s for s in self._windows.get(key, []) if s > now - seconds]
                self._windows[key] = stamps
                if len(stamps) + 1 > count:
                    wait = max(wait, stamps[len(stamps) - count] + seconds - now, 0.001)
            if wait:
                return wait
            for key in keys:
                self._windows[key].append(now)
            return 0.0

    def slot_take(self, key: str, token: str, maximum: int, ttl: float) -> bool:
        with self._lock:
            now = time.monotonic()
            holders = {t: e for t, e in self._slots.get(key, {}).items() if e > now}
            self._slots[key] = holders
            if token in holders or len(holders) < maximum:
                holders[token] = now + ttl
                return True
            return False

    def slot_release(self, key: str, token: str) -> None:
        with self._lock:
            self._slots.get(key, {}).pop(token, None)

    def slot_count(self, key: str) -> int:
        with self._lock:
            now = time.monotonic()
            return sum(1 for e in self._slots.get(key, {}).values() if e > now)

    def pause_set(self, key: str, seconds: float) -> None:
        with self._lock:
            self._expiry[key] = time.monotonic() + seconds

    def pause_left(self, key: str) -> float:
        with self._lock:
            return max(0.0, self._expiry.get(key, 0.0) - time.monotonic())

    def flag_set(self, key: str, seconds: float) -> bool:
        if self.pause_left(key) > 0:
            return False
        self.pause_set(key, seconds)
        return True

    def waiting_note(self, key: str, token: str, due_in: float, ttl: float) -> None:
        with self._lock:
            self._waiting.setdefault(key, {})[token] = time.monotonic() + due_in

    def waiting_drop(self, key: str, token: str) -> None:
        with self._lock:
            self._waiting.get(key, {}).pop(token, None)

    def waiting_due(self, key: str, stale: float) -> int:
        with self._lock:
            now = time.monotonic()
            waiting = {t: d for t, d in self._waiting.get(key, {}).items() if d >= now - stale}
            self._waiting[key] = waiting
            return sum(1 for due in waiting.values() if due <= now)


def limits_redis_url() -> str:
    """Return MAILER_LIMITS_REDIS_URL, else the Celery broker when it is Redis, else ""."""
    url = settings.MAILER_LIMITS_REDIS_URL
    if not url:
        broker = getattr(settings, "CELERY_BROKER_URL", "") or ""
        url = broker if broker.startswith(("redis://", "rediss://")) else ""
    return url


@cache
def _store_for(url: str) -> LimitStore:
    if not url:
        logger.warning(
            "No Redis for mail limits (MAILER_LIMITS_REDIS_URL or a redis:// Celery broker): "
            "provider limits hold per process only"
        )
        return LocalLimitStore()
    return RedisLimitStore(url)


def limit_store() -> LimitStore:
    """Return the limit store for the current settings (one client per URL and process)."""
    return _store_for(limits_redis_url())


def limit_store_shared() -> bool:
    """Return whether the limit store is shared by every worker process (Redis)."""
    return isinstance(limit_store(), RedisLimitStore)


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
