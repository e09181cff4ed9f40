"""Mass-mail settings, read at call time with their defaults, and the named refusal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from events.errors import ErrorCause, UserFacingError
from mailer.causes import MailCause
from massmail.causes import MassMailCause
from users.models import MailSender

if TYPE_CHECKING:
    from mailer.config import SenderConfig

#: The Celery task names (massmail.tasks); jobs queue the dispatch task by this name.
DISPATCH_TASK = "massmail.dispatch"
TICK_TASK = "massmail.tick"

#: name: (default, minimum). Tests and benchmarks shorten leases and speed up retries.
_DEFAULTS: dict[str, tuple[float, float]] = {
    "MAILER_LEASE_SECONDS": (120.0, 0.5),
    "MAILER_BATCH_SIZE": (50, 1),
    "MAILER_DISPATCH_PARALLELISM": (2, 1),
    "MAILER_DISPATCH_TIME_LIMIT": (900.0, 2.0),
    "MAILER_RETRY_BASE_SECONDS": (30.0, 0.0),
    "MAILER_RETRY_MAX_SECONDS": (3600.0, 0.0),
    "MAILER_RETRY_MAX_ATTEMPTS": (6, 1),
    "MAILER_MAX_INLINE_WAIT": (20.0, 0.0),
    "MAILER_SLOT_WAIT": (5.0, 0.0),
    "MAILER_TICK_SECONDS": (30.0, 0.1),
    "MAILER_TRANSMIT_GROUP": (10, 1),
    "MAILER_DISPATCH_SLICE_SECONDS": (0.5, 0.05),
    "MAILER_DISPATCH_SLICE_MESSAGES": (20, 1),
}


def _number(name: str) -> float:
    default, minimum = _DEFAULTS[name]
    value = getattr(settings, name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {value!r})")
    return number


@dataclass(frozen=True)
class MassMailSettings:
    """How dispatchers claim, lease, retry and pace; see `massmail_settings`."""

    lease: float
    batch_size: int
    parallelism: int
    time_limit: float
    retry_base: float
    retry_max: float
    max_attempts: int
    inline_wait: float
    slot_wait: float
    tick: float
    #: Rows marked "transmitting" in one statement and marked "sent" in one statement after
    #: their DATA: at most this many per pool process become `unknown` after a kill -9.
    transmit_group: int = 10
    #: How long a dispatch run sends while other runs wait for a pool process (round-robin);
    #: a rate wait longer than half of it hands the process back instead of sleeping.
    slice: float = 0.5
    #: ... or this many messages, whichever comes first (small messages go fast).
    slice_messages: int = 20

    @property
    def soft_time_limit(self) -> float:
        """Return when a dispatch task is asked to stop (its hard limit follows a bit later)."""
        return max(1.0, self.time_limit - max(1.0, min(30.0, self.time_limit * 0.1)))

    @property
    def budget(self) -> float:
        """Return how long a dispatch task claims new batches; its last batch fits the lease."""
        return max(0.5, self.soft_time_limit - self.lease)


def massmail_settings() -> MassMailSettings:
    """Return the mass-mail settings (MAILER_* in Django settings, else the defaults)."""
    return MassMailSettings(
        lease=_number("MAILER_LEASE_SECONDS"),
        batch_size=int(_number("MAILER_BATCH_SIZE")),
        parallelism=int(_number("MAILER_DISPATCH_PARALLELISM")),
        time_limit=_number("MAILER_DISPATCH_TIME_LIMIT"),
        retry_base=_number("MAILER_RETRY_BASE_SECONDS"),
        retry_max=_number("MAILER_RETRY_MAX_SECONDS"),
        max_attempts=int(_number("MAILER_RETRY_MAX_ATTEMPTS")),
        inline_wait=_number("MAILER_MAX_INLINE_WAIT"),
        slot_wait=_number("MAILER_SLOT_WAIT"),
        tick=_number("MAILER_TICK_SECONDS"),
        transmit_group=int(_number("MAILER_TRANSMIT_GROUP")),
        slice=_number("MAILER_DISPATCH_SLICE_SECONDS"),
        slice_messages=int(_number("MAILER_DISPATCH_SLICE_MESSAGES")),
    )


class MassMailRefusedError(UserFacingError):
    """A job cannot be created, resumed or changed; `message` says why and the fix.

    Its cause is a MassMailCause, `MailCause.SETTINGS_INCOMPLETE`, or the cause of a document
    kind's refusal (an unknown placeholder, another user's documents): any registered cause.
    """

    causes: ClassVar[tuple[ErrorCause, ...]] = ()


def mass_mail_refusal(config: SenderConfig) -> MassMailRefusedError | None:
    """Return why resolved settings cannot mass-mail (mode, then completeness), or None."""
    if not config.mass_mail_allowed:
        return MassMailRefusedError(
            MassMailCause.MASS_MAIL_NOT_ALLOWED,
            params={"code": config.code, "sender": str(MailSender(config.mode).label)},
        )
    if config.missing:
        return MassMailRefusedError(MailCause.SETTINGS_INCOMPLETE, params=config.missing_params())
    return None
