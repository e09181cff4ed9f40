"""Sign-in throttling: django-axes locks logins; password reset requests are counted here.

Both count per account and per client IP within AUTH_LOCKOUT_MINUTES, shared by every process
(axes in the database, reset requests in Django's cache: Redis when DJANGO_CACHE_URL says so).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

LOCKOUT_TEMPLATE = "registration/lockout.html"
#: Too Many Requests (RFC 6585), with Retry-After.
LOCKOUT_STATUS = 429
RESET_CACHE_PREFIX = "auth-throttle:password-reset"


def client_ip(request: HttpRequest) -> str:
    """Return the client's address, looking through AUTH_LOCKOUT_PROXY_COUNT trusted proxies.

    Each proxy appends the address it saw to X-Forwarded-For, so the client is the entry that
    many places from the right; entries further left are whatever the client sent.
    """
    remote = str(request.META.get("REMOTE_ADDR") or "")
    count = settings.AUTH_LOCKOUT_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    return forwarded[-count] if len(forwarded) >= count else remote


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """Render the page that says sign-in is blocked and for how long (axes' lockout callable)."""
    minutes = settings.AUTH_LOCKOUT_MINUTES
    response = render(request, LOCKOUT_TEMPLATE, {"minutes": minutes}, status=LOCKOUT_STATUS)
    response["Retry-After"] = str(minutes * 60)
    return response


def _reset_keys(request: HttpRequest) -> list[str]:
    email = str(request.POST.get("email", "")).strip().casefold()
    keys = [f"{RESET_CACHE_PREFIX}:ip:{client_ip(request)}"]
    if email:
        # Hashed: cache keys must be short and free of spaces and control characters.
        keys.append(f"{RESET_CACHE_PREFIX}:email:{hashlib.sha256(email.encode()).hexdigest()}")
    return keys


def _reset_count(key: str, window: int) -> int:
    # add() starts the window, incr() counts atomically (one Redis INCR when the cache is Redis).
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=window)
        return 1


def password_reset_throttle(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Refuse password reset requests beyond AUTH_LOCKOUT_ATTEMPTS per address or per IP."""

    @wraps(view)
    def throttled(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            window = settings.AUTH_LOCKOUT_MINUTES * 60
            counts = [_reset_count(key, window) for key in _reset_keys(request)]
            if max(counts) > settings.AUTH_LOCKOUT_ATTEMPTS:
                return lockout_response(request)
        return view(request, *args, **kwargs)

    return throttled
