"""The dispatcher's error policy as a table: an outcome, the attempts so far, the decision."""

from __future__ import annotations

import pytest

from mailer.causes import MailCause
from mailer.exceptions import (
    MailAuthError,
    MailConnectionError,
    MailSettingsError,
    MailThrottledError,
    MailTlsError,
    MessageRefusedError,
    OutcomeUnknownError,
    RecipientRefusedError,
    SenderRefusedError,
    Step,
    XOAuth2Error,
)
from mailer.messages import HeaderInjectionError
from massmail.causes import MassMailCause
from massmail.conf import MassMailSettings
from massmail.documents import DocumentError
from massmail.models import MailStatus
from massmail.policy import SENT, Decision, JobAction, Stage, decide, retry_delay
from oauth365.exceptions import IdentityProviderUnavailableError, ReauthenticationRequiredError

CONF = MassMailSettings(
    lease=60.0,
    batch_size=50,
    parallelism=2,
    time_limit=900.0,
    retry_base=30.0,
    retry_max=3600.0,
    max_attempts=3,
    inline_wait=20.0,
    slot_wait=5.0,
    tick=30.0,
)


def _top(low: float, high: float) -> float:
    """A jitter that always takes the top of its range (deterministic tests)."""
    return high


UNKNOWN = Decision(MailStatus.UNKNOWN, record_event=True)
PAUSE = Decision(
    MailStatus.QUEUED, job_action=JobAction.PAUSE, record_event=True, counts_attempt=False
)
SENDER_PAUSE = Decision(
    MailStatus.RETRY, job_action=JobAction.SENDER_PAUSE, record_event=True, counts_attempt=False
)
FAILED_EVENT = Decision(MailStatus.FAILED, record_event=True)
FAILED_QUIET = Decision(MailStatus.FAILED)


def _retry(attempt: int) -> Decision:
    return Decision(MailStatus.RETRY, retry_in=retry_delay(attempt=attempt, conf=CONF, jitter=_top))


C = MailCause
TABLE = [
    # (name, error, attempts so far, stage, decision)
    ("success", None, 0, Stage.SEND, SENT),
    (
        "outcome unknown",
        OutcomeUnknownError(C.OUTCOME_UNKNOWN, step=Step.DATA),
        0,
        Stage.SEND,
        UNKNOWN,
    ),
    ("auth rejected", MailAuthError(C.AUTH_REJECTED, step=Step.AUTH), 0, Stage.SEND, PAUSE),
    ("auth, transient", MailAuthError(C.AUTH_REJECTED, transient=True), 0, Stage.SEND, PAUSE),
    ("xoauth2 token refused", XOAuth2Error(step=Step.AUTH), 0, Stage.SEND, PAUSE),
    ("tls", MailTlsError(C.CERTIFICATE_UNTRUSTED, step=Step.TLS), 0, Stage.SEND, PAUSE),
    ("settings incomplete", MailSettingsError(C.SETTINGS_INCOMPLETE), 0, Stage.SEND, PAUSE),
    ("sender refused", SenderRefusedError(C.SENDER_REFUSED, step=Step.MAIL), 0, Stage.SEND, PAUSE),
    ("5xx at EHLO", MessageRefusedError(C.SERVER_REJECTED, step=Step.EHLO), 0, Stage.SEND, PAUSE),
    (
        "refused connection, permanent",
        MailConnectionError(C.CONNECTION_REFUSED, step=Step.CONNECT, transient=False),
        0,
        Stage.SEND,
        PAUSE,
    ),
    ("m365 consent lost", ReauthenticationRequiredError(), 0, Stage.SEND, PAUSE),
    ("m365 unavailable, first", IdentityProviderUnavailableError(), 0, Stage.SEND, _retry(1)),
    ("m365 unavailable, last", IdentityProviderUnavailableError(), 2, Stage.SEND, FAILED_EVENT),
    (
        "quota, 4xx",
        MailThrottledError(C.QUOTA_EXCEEDED, step=Step.DATA),
        0,
        Stage.SEND,
        SENDER_PAUSE,
    ),
    (
        "quota, 5xx at MAIL",
        MailThrottledError(C.QUOTA_EXCEEDED, step=Step.MAIL, transient=False),
        5,
        Stage.SEND,
        SENDER_PAUSE,
    ),
    ("throttled, first", MailThrottledError(C.THROTTLED, step=Step.MAIL), 0, Stage.SEND, _retry(1)),
    (
        "throttled, second",
        MailThrottledError(C.THROTTLED, step=Step.MAIL),
        1,
        Stage.SEND,
        _retry(2),
    ),
    (
        "throttled, at max",
        MailThrottledError(C.THROTTLED, step=Step.MAIL),
        2,
        Stage.SEND,
        FAILED_EVENT,
    ),
    (
        "connection lost",
        MailConnectionError(C.CONNECTION_LOST, step=Step.DATA),
        0,
        Stage.SEND,
        _retry(1),
    ),
    (
        "recipient 4xx",
        RecipientRefusedError(C.RECIPIENT_REFUSED, step=Step.RCPT, transient=True),
        1,
        Stage.SEND,
        _retry(2),
    ),
    (
        "recipient 5xx",
        RecipientRefusedError(C.RECIPIENT_REFUSED, step=Step.RCPT),
        0,
        Stage.SEND,
        FAILED_EVENT,
    ),
    (
        "message 5xx",
        MessageRefusedError(C.MESSAGE_REFUSED, step=Step.DATA),
        0,
        Stage.SEND,
        FAILED_EVENT,
    ),
    (
        "document deleted",
        DocumentError(MassMailCause.DOCUMENT_DELETED),
        0,
        Stage.BUILD,
        FAILED_QUIET,
    ),
    (
        "document error while sending",
        DocumentError(MassMailCause.DOCUMENT_DELETED),
        0,
        Stage.SEND,
        FAILED_QUIET,
    ),
    ("header injection at build", HeaderInjectionError("Subject"), 0, Stage.BUILD, FAILED_QUIET),
    (
        "transient error at build",
        MailConnectionError(C.CONNECTION_LOST),
        0,
        Stage.BUILD,
        FAILED_QUIET,
    ),
]


@pytest.mark.parametrize(
    ("error", "attempts", "stage", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_decide_table(error, attempts, stage, expected):
    """Each outcome decides the row's status, its retry, the job's action and the event."""
    assert decide(error, attempts=attempts, conf=CONF, stage=stage, jitter=_top) == expected


def test_decide_event_of_a_job_action_names_the_sender_not_the_message():
    """Events of pauses are about the sender (no Message-ID); the others name the message."""
    assert not PAUSE.event_names_message and not SENDER_PAUSE.event_names_message
    assert UNKNOWN.event_names_message and FAILED_EVENT.event_names_message


def test_retry_delay_grows_exponentially_is_capped_and_jittered():
    """The wait doubles per attempt up to retry_max, and lies in the upper half of it."""
    assert [retry_delay(attempt=a, conf=CONF, jitter=_top) for a in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(attempt=20, conf=CONF, jitter=_top) == CONF.retry_max
    assert retry_delay(attempt=2, conf=CONF, jitter=lambda low, high: low) == 30
    assert all(30 <= retry_delay(attempt=2, conf=CONF) <= 60 for _ in range(50))
