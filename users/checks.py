"""System checks: configuration mistakes reported by `manage.py check` and at start-up."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.compatibility)
def platform_relay_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from mailer.platform import platform_get

    try:
        platform_get()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="directo_mail.E001")]
    return []
