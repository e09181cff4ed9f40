"""Start-up check: broker visibility timeout > dispatch task time limit > row lease."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from massmail.conf import massmail_settings

#: Brokers that redeliver an unacknowledged task after a visibility timeout.
_VISIBILITY_BROKERS = ("redis://", "rediss://", "sqs://", "sentinel://")


@register(Tags.compatibility, deploy=False)
def massmail_timing_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Check that a task is never redelivered while it runs, and a lease never outlives a task.

    A redelivered dispatch task would run twice at once (harmless for delivery, but it doubles
    connections); a lease longer than the task would keep a dead worker's rows locked away.
    """
    try:
        conf = massmail_settings()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="massmail.E001")]
    errors = []
    if conf.time_limit <= conf.lease:
        errors.append(
            Error(
                f"MAILER_DISPATCH_TIME_LIMIT ({conf.time_limit:g} s) must be longer than "
                f"MAILER_LEASE_SECONDS ({conf.lease:g} s).",
                hint="Lengthen the task time limit or shorten the lease.",
                id="massmail.E002",
            )
        )
    broker = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if broker.startswith(_VISIBILITY_BROKERS):
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        visibility = float(options.get("visibility_timeout", 3600))  # kombu's Redis default
        # A dispatch task waiting for its provider's allowance is queued with a countdown of
        # up to MAILER_MAX_INLINE_WAIT, held unacknowledged by a worker until then.
        if visibility <= conf.time_limit + conf.inline_wait:
            errors.append(
                Error(
                    f"The broker's visibility_timeout ({visibility:g} s) must be longer than "
                    f"MAILER_DISPATCH_TIME_LIMIT ({conf.time_limit:g} s) plus "
                    f"MAILER_MAX_INLINE_WAIT ({conf.inline_wait:g} s): otherwise a running or "
                    "waiting dispatch task is handed to a second worker.",
                    hint="Raise CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'].",
                    id="massmail.E003",
                )
            )
        if conf.tick * 2 >= visibility:
            errors.append(
                Error(
                    f"MAILER_TICK_SECONDS ({conf.tick:g} s) must be well below the broker's "
                    f"visibility_timeout ({visibility:g} s).",
                    id="massmail.E004",
                )
            )
    return errors
