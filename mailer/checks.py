"""Start-up check: the platform relay URL (the Directo mode) parses."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from mailer.platform import platform_get


@register(Tags.compatibility)
def platform_relay_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Check that PLATFORM_RELAY_URL parses (the Directo mode's relay)."""
    try:
        platform_get()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="directo_mail.E001")]
    return []
