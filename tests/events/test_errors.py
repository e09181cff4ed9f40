"""One error model (issue 11): enum causes, rendering, pickling and the event log's text."""

from __future__ import annotations

import pickle

import pytest
from django.urls import reverse

from events.errors import ErrorCause, UserFacingError, cause_render, causes_registered
from events.models import EventKind, MailEvent
from mailer.backends import UnknownSenderError
from mailer.causes import MailCause
from mailer.events import mail_event_record_failure
from mailer.exceptions import (
    CAUSES,
    MailConnectionError,
    MessageRefusedError,
    RecipientRefusedError,
    Step,
    XOAuth2Error,
    delivery_error,
)
from mailer.messages import HeaderInjectionError
from mailer.services import MailTestRateLimitedError
from oauth365.causes import M365Cause
from oauth365.exceptions import (
    AADSTS_ERRORS,
    OAUTH_ERRORS,
    M365AuthError,
    MailboxAlreadyLinkedError,
    ReauthenticationRequiredError,
    RedirectUriMismatchError,
)
from oauth365.services import m365_consent_lapse_warn
from tests.factories import UserCardFactory

REGISTERED = sorted(causes_registered(), key=str)


def _sample_params(cause: ErrorCause) -> dict[str, str | int]:
    return {name: f"<{name}>" for name in cause.placeholders}


def _errors() -> list[UserFacingError]:
    """Return one error of every class a user may see, each with all its parameters."""
    smtp = {
        "step": Step.RCPT,
        "smtp_code": 450,
        "smtp_reply": "4.2.0 try later",
        "recipient": "a@example.test",
        "host": "smtp.example.test",
        "port": 587,
        "detail": "why",
    }
    return [
        *(delivery_error(cause, **smtp) for cause in sorted(CAUSES)),
        XOAuth2Error(status="401", scope="x", **smtp),
        UnknownSenderError(MailCause.SENDER_UNKNOWN, detail="no card with e-mail 'a@b.test'"),
        HeaderInjectionError("Subject"),
        MailTestRateLimitedError(),
        *(cls(error="e", code="AADSTS1", card="KIVI") for cls in {*AADSTS_ERRORS.values()}),
        *(cls(error="e") for cls in {*OAUTH_ERRORS.values(), M365AuthError}),
        RedirectUriMismatchError(error="e", redirect_uri="https://mail.example.test/cb/"),
        MailboxAlreadyLinkedError(account="a@b.test", other_card="MARI"),
    ]


@pytest.mark.parametrize("cause", REGISTERED, ids=str)
def test_cause_render_every_registered_cause_fills_its_placeholders(cause):
    """Every registered cause renders a complete sentence with no placeholder left over."""
    text = cause_render(cause.value, _sample_params(cause), fallback="FALLBACK")
    assert text != "FALLBACK" and text.strip()
    # A brace left is a placeholder left, unless the template escapes it ("{{" prints "{").
    literal = (cause.template.count("{{"), cause.template.count("}}"))
    assert (text.count("{"), text.count("}")) == literal and "%(" not in text
    assert text.rstrip().endswith((".", ")", ":")) or cause == MailCause.SETTINGS_INCOMPLETE


def test_cause_render_every_app_registers_its_causes():
    """Both apps' cause enums are registered from their AppConfig.ready()."""
    assert set(MailCause) | set(M365Cause) <= set(causes_registered())


@pytest.mark.parametrize("cause", REGISTERED, ids=str)
def test_cause_render_with_no_parameters_still_renders(cause):
    """A cause renders even without parameters: a missing placeholder is blank, never a crash."""
    assert cause.render({}).count("{") == cause.template.count("{{")


@pytest.mark.parametrize("error", _errors(), ids=lambda e: f"{type(e).__name__}-{e.cause}")
def test_user_facing_error_pickles_with_cause_params_and_message(error):
    """A user-facing error survives pickling (Celery results) with its type, cause and text."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and isinstance(copy, UserFacingError)
    assert (copy.cause, dict(copy.params), copy.transient) == (
        error.cause,
        dict(error.params),
        error.transient,
    )
    assert str(copy) == copy.message == copy.user_message == error.message
    assert isinstance(copy.cause, ErrorCause)


@pytest.mark.parametrize("error", _errors(), ids=lambda e: f"{type(e).__name__}-{e.cause}")
def test_user_facing_error_renders_again_from_its_cause_and_params(error):
    """The registry renders a stored cause and parameters to the very text of the error."""
    assert cause_render(str(error.cause), error.params) == error.message
    assert all(isinstance(v, str | int | type(None)) for v in error.params.values())


@pytest.mark.django_db
@pytest.mark.parametrize("error", _errors(), ids=lambda e: f"{type(e).__name__}-{e.cause}")
def test_mail_event_record_failure_event_text_equals_the_error_message(error):
    """An event stored with cause and parameters shows the same text as the error that made it."""
    card = UserCardFactory(code="KIVI")
    mail_event_record_failure(card=card, error=error, message_id="<1@example.test>")
    event = MailEvent.objects.get()
    assert event.params and event.cause == error.cause
    assert event.text == event.message == error.message


@pytest.mark.django_db
def test_mail_event_record_failure_keeps_smtp_details():
    """A delivery error's step, reply and recipient are recorded next to its text."""
    error = RecipientRefusedError(
        MailCause.RECIPIENT_REFUSED,
        step=Step.RCPT,
        smtp_code=450,
        smtp_reply="4.2.0 busy",
        recipient="a@example.test",
        host="smtp.example.test",
        port=587,
        transient=True,
    )
    event = mail_event_record_failure(card=UserCardFactory(), error=error)
    event.refresh_from_db()
    assert (event.step, event.smtp_code, event.smtp_reply, event.recipient) == (
        "RCPT",
        450,
        "4.2.0 busy",
        "a@example.test",
    )
    assert "temporary" in event.text and event.kind == EventKind.SEND_FAILED


@pytest.mark.django_db
def test_mail_event_text_of_an_old_row_is_its_stored_message():
    """An event recorded before parameters were kept shows its stored message."""
    card = UserCardFactory(code="KIVI")
    event = MailEvent.objects.create(
        card=card,
        user_code=card.code,
        kind=EventKind.SEND_FAILED,
        cause="connection_refused",
        message="An older wording of the refusal.",
    )
    event.refresh_from_db()
    assert event.params == {} and event.text == "An older wording of the refusal."


@pytest.mark.django_db
def test_mail_event_text_of_an_unknown_cause_is_its_stored_message():
    """A cause no app registers (a removed one) shows the stored message, parameters or not."""
    card = UserCardFactory(code="KIVI")
    event = MailEvent.objects.create(
        card=card,
        user_code=card.code,
        kind=EventKind.BOUNCE,
        cause="no_such_cause",
        message="Stored text.",
        params={"host": "x"},
    )
    assert event.text == "Stored text."


@pytest.mark.django_db
def test_event_pages_show_the_rendered_text(client):
    """The user's event page shows the text made from the cause and its parameters."""
    card = UserCardFactory(code="KIVI")
    error = MailConnectionError(MailCause.CONNECTION_REFUSED, host="smtp.example.test", port=25)
    event = mail_event_record_failure(card=card, error=error)
    # Only the parameters say which host: the page renders them, not the stored text.
    MailEvent.objects.filter(pk=event.pk).update(message="stale")
    client.force_login(card.user)
    page = client.get(reverse("deliverability:events")).content.decode()
    assert "smtp.example.test refused the connection on port 25" in page
    assert "stale" not in page


@pytest.mark.django_db
def test_m365_consent_lapse_warn_stores_cause_and_params():
    """The consent-lapse warning is stored as a cause with parameters and renders its text."""
    from datetime import timedelta

    from django.utils import timezone

    from oauth365.models import M365Connection, M365Status

    card = UserCardFactory(code="KIVI")
    long_ago = timezone.now() - timedelta(days=80)
    M365Connection.objects.create(
        card=card,
        status=M365Status.CONNECTED,
        token_cache="{}",
        account="kivi@example.test",
        authenticated_at=long_ago,
        token_refreshed_at=long_ago,
    )
    assert m365_consent_lapse_warn(now=timezone.now()) == 1
    event = MailEvent.objects.get(cause=M365Cause.CONSENT_EXPIRING)
    assert event.params["account"] == "kivi@example.test"
    assert event.text == event.message and "kivi@example.test" in event.text


@pytest.mark.parametrize(
    "make",
    [
        lambda: MailConnectionError("conection_refused", host="h"),
        lambda: MailConnectionError("throttled", host="h"),
        lambda: delivery_error("conection_refused"),
        lambda: MailCause("conection_refused"),
        lambda: UserFacingError("connection_refused"),
    ],
    ids=["typo", "other-class", "factory-typo", "enum-typo", "bare-string"],
)
def test_user_facing_error_refuses_an_unknown_cause(make):
    """A typo'd cause (or one of another class) is refused when the error is made."""
    with pytest.raises(ValueError, match=r"has no cause|is not a valid MailCause"):
        make()


def test_user_facing_error_cause_equals_its_code():
    """A cause is an enum member that still equals its code (tests and events compare text)."""
    error = MessageRefusedError("message_refused", host="h", transient=True)
    assert error.cause is MailCause.MESSAGE_REFUSED and error.cause == "message_refused"
    assert error.message.endswith("sent again later.")


def test_user_facing_error_refuses_a_non_plain_parameter():
    """Only str, int or None go into parameters, so no Secret object can reach a message."""
    from users.secrets import Secret

    with pytest.raises(TypeError):
        UserFacingError(MailCause.HEADER_INJECTION, params={"field": Secret("hunter2")})


def test_m365_reauth_error_message_names_the_card():
    """The card placeholder of the re-authentication message is filled in, or left out."""
    assert "user card KIVI to" in ReauthenticationRequiredError(card="KIVI").message
    assert "user card to" in ReauthenticationRequiredError().message
