"""What an outcome means for a row and its job: the dispatcher's error policy, as a pure function.

No database, no network, no clock: given the outcome of one message (None for success, else
the error), the row's attempts so far and the settings, `decide` returns a `Decision`. The
dispatcher carries it out (massmail.rows for the row, massmail.pacing for the mailbox pause).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from events.errors import UserFacingError
from mailer.causes import MailCause
from mailer.exceptions import (
    MailAuthError,
    MailDeliveryError,
    MailSettingsError,
    MailTlsError,
    OutcomeUnknownError,
    SenderRefusedError,
    Step,
)
from massmail.conf import MassMailSettings
from massmail.documents import DocumentError
from massmail.models import MailStatus
from oauth365.exceptions import M365AuthError

#: Failures while connecting are the sender's settings, not the message's.
_SESSION_STEPS = frozenset({Step.CONNECT, Step.EHLO, Step.TLS, Step.AUTH})

Jitter = Callable[[float, float], float]


class Stage(StrEnum):
    """Where a message's error happened."""

    BUILD = "build"  # making the message from its document: nothing was sent
    SEND = "send"  # connecting, or the SMTP session of this message


class JobAction(StrEnum):
    """What an outcome does to the job."""

    NONE = "none"
    PAUSE = "pause"  # the sender's settings or account: the user fixes them and resumes
    SENDER_PAUSE = "sender_pause"  # the mailbox's quota: the job waits for the window


@dataclass(frozen=True)
class Decision:
    """Where the row goes, when it is tried again, and what the job and the event log learn.

    `row_status` QUEUED puts the row back untouched (its attempt does not count). RETRY with
    `retry_in` None (a SENDER_PAUSE) retries when the mailbox's pause ends, which the limiter
    decides. An event about the sender (a job action) names no Message-ID.
    """

    row_status: MailStatus
    retry_in: float | None = None
    job_action: JobAction = JobAction.NONE
    record_event: bool = False
    counts_attempt: bool = True

    @property
    def event_names_message(self) -> bool:
        """Return whether the event is about this message (else about the sender)."""
        return self.job_action is JobAction.NONE


SENT = Decision(MailStatus.SENT)


def retry_delay(*, attempt: int, conf: MassMailSettings, jitter: Jitter = random.uniform) -> float:
    """Return the wait before attempt `attempt + 1`: exponential, capped, with equal jitter."""
    delay = min(conf.retry_max, conf.retry_base * 2 ** max(0, attempt - 1))
    return delay / 2 + jitter(0, delay / 2)


def is_sender_problem(error: UserFacingError) -> bool:
    """Return whether an error is about the sender's settings or account, not this message."""
    if isinstance(error, M365AuthError):
        return not error.transient
    if isinstance(error, MailAuthError | MailSettingsError):
        return True
    if isinstance(error, MailDeliveryError) and not error.transient:
        return isinstance(error, MailTlsError | SenderRefusedError) or error.step in _SESSION_STEPS
    return False


def decide(
    error: UserFacingError | None,
    *,
    attempts: int,
    conf: MassMailSettings,
    stage: Stage = Stage.SEND,
    jitter: Jitter = random.uniform,
) -> Decision:
    """Return what happens to a row (tried `attempts` times before) after this outcome."""
    if error is None:
        return SENT
    if stage is Stage.BUILD or isinstance(error, DocumentError):
        # The document cannot become a message: trying again builds the same failure.
        return Decision(MailStatus.FAILED)
    if isinstance(error, OutcomeUnknownError):
        # It may have been delivered: never sent again automatically (at most once).
        return Decision(MailStatus.UNKNOWN, record_event=True)
    if is_sender_problem(error):
        return Decision(
            MailStatus.QUEUED,
            job_action=JobAction.PAUSE,
            record_event=True,
            counts_attempt=False,
        )
    if error.cause == MailCause.QUOTA_EXCEEDED:
        return Decision(
            MailStatus.RETRY,
            job_action=JobAction.SENDER_PAUSE,
            record_event=True,
            counts_attempt=False,
        )
    attempt = attempts + 1
    if error.transient and attempt < conf.max_attempts:
        return Decision(
            MailStatus.RETRY, retry_in=retry_delay(attempt=attempt, conf=conf, jitter=jitter)
        )
    return Decision(MailStatus.FAILED, record_event=True)
