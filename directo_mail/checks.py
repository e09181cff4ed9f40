"""System checks of the deployment itself (the apps' own checks live in their checks.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

#: Host names that only the machine itself (or Django's test client) can reach.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1", "testserver"})


def host_is_local(host: str) -> bool:
    """Return whether an ALLOWED_HOSTS entry names only the local machine."""
    name = host.lower().rstrip(".")
    # RFC 6761: every name under .localhost resolves to loopback (".localhost" is the pattern).
    return name in LOCAL_HOSTS or name == ".localhost" or name.endswith(".localhost")


@checks.register(checks.Tags.security)
def debug_public_hosts_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse DEBUG on a server that answers to non-local host names."""
    if not settings.DEBUG:
        return []
    public = [host for host in settings.ALLOWED_HOSTS if not host_is_local(host)]
    if not public:
        return []
    return [
        checks.Error(
            f"DEBUG is on while DJANGO_ALLOWED_HOSTS names non-local hosts ({', '.join(public)}): "
            "the debug page would show code, settings and requests to anyone who reaches them.",
            hint="Set DJANGO_ENV=production and leave DJANGO_DEBUG unset (or false); keep "
            "DJANGO_DEBUG=true for localhost only.",
            id="directo_mail.E002",
        )
    ]
