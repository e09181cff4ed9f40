"""Where limit counters live: Redis, shared by every worker, or this process's memory.

Sliding windows, expiring slots (a killed worker cannot leak one), pauses, and the notes of
dispatch runs waiting for a pool process. Each operation is one Lua script, so concurrent
workers see one order. Without Redis (development) the same operations run in memory.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

from django.conf import settings

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
