"""Mapping SMTP replies and socket/TLS failures to named errors (issue 3, item 3)."""

from __future__ import annotations

import socket
import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.exceptions import (
    CAUSES,
    MailAuthError,
    MailDeliveryError,
    MailThrottledError,
    RecipientRefusedError,
    Step,
    XOAuth2Error,
    delivery_error,
)
from mailer.smtp_errors import enhanced_status, network_error, smtp_reply_error, tls_error

GMAIL, M365, OTHER = "smtp.gmail.com", "smtp.office365.com", "mail.example.test"


def reply_cause(step: str, code: int, reply: str, host: str = OTHER, **kwargs: str) -> str:
    return smtp_reply_error(step=step, code=code, reply=reply, host=host, **kwargs).cause


@pytest.mark.parametrize(
    ("step", "code", "reply", "host", "cause"),
    [
        (
            "AUTH",
            534,
            "5.7.9 Application-specific password required.",
            GMAIL,
            "gmail_app_password_required",
        ),
        (
            "AUTH",
            535,
            "5.7.8 Username and Password not accepted.",
            GMAIL,
            "gmail_app_password_required",
        ),
        (
            "AUTH",
            535,
            "5.7.8 Username and Password not accepted. gsmtp",
            OTHER,
            "gmail_app_password_required",
        ),
        ("AUTH", 535, "5.7.8 Authentication credentials invalid", OTHER, "auth_rejected"),
        (
            "AUTH",
            535,
            "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
            M365,
            "m365_smtp_auth_disabled",
        ),
        ("AUTH", 535, "5.7.3 Authentication unsuccessful", M365, "m365_basic_auth_retired"),
        ("AUTH", 535, "5.7.3 Authentication unsuccessful", OTHER, "auth_rejected"),
        (
            "AUTH",
            550,
            "5.7.30 Basic authentication is not supported for Client Submission",
            M365,
            "m365_basic_auth_retired",
        ),
        (
            "DATA",
            554,
            "5.2.252 SendAsDenied; a@x.test not allowed to send as b@x.test",
            M365,
            "m365_send_as_denied",
        ),
        (
            "DATA",
            554,
            "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
            M365,
            "quota_exceeded",
        ),
        ("MAIL", 550, "5.4.5 Daily user sending limit exceeded.", GMAIL, "quota_exceeded"),
        (
            "MAIL",
            421,
            "4.3.2 Service not available, closing transmission channel",
            OTHER,
            "throttled",
        ),
        ("DATA", 451, "4.3.2 System not accepting network messages", OTHER, "throttled"),
        ("MAIL", 530, "5.7.0 Must issue a STARTTLS command first", OTHER, "encryption_required"),
        (
            "AUTH",
            538,
            "5.7.11 Encryption required for requested authentication mechanism",
            OTHER,
            "encryption_required",
        ),
        ("MAIL", 530, "5.7.0 Authentication required", OTHER, "auth_required"),
        ("MAIL", 553, "5.7.1 Sender address rejected: not owned by user", OTHER, "sender_refused"),
        ("RCPT", 550, "5.1.1 No such user", OTHER, "recipient_refused"),
        ("RCPT", 452, "4.5.3 Too many recipients", OTHER, "recipient_refused"),
        ("DATA", 550, "5.7.1 Message rejected as spam", OTHER, "message_refused"),
        ("CONNECT", 554, "No SMTP service here", OTHER, "server_rejected"),
    ],
)
def test_smtp_reply_error_names_the_cause(step, code, reply, host, cause):
    """Each documented provider reply maps to its stable cause code."""
    assert reply_cause(step, code, reply, host) == cause


def test_smtp_reply_error_xoauth2_auth_failure_is_xoauth2_error():
    """A 5xx to AUTH XOAUTH2 without a challenge is still an XOAuth2Error."""
    error = smtp_reply_error(
        step=Step.AUTH,
        code=535,
        reply="5.7.3 Authentication unsuccessful",
        host=M365,
        mechanism="XOAUTH2",
    )
    assert isinstance(error, XOAuth2Error) and error.cause == "xoauth2_rejected"


def test_smtp_reply_error_m365_auth_disabled_names_the_admin_center_path():
    """5.7.139 tells where Authenticated SMTP is enabled."""
    error = smtp_reply_error(
        step=Step.AUTH, code=535, reply="5.7.139 Authentication unsuccessful", host=M365
    )
    assert isinstance(error, MailAuthError)
    assert "Admin Center → Users → Active users" in error.user_message
    assert "Manage email apps" in error.user_message


def test_smtp_reply_error_quota_exceeded_is_not_retried_automatically():
    """SubmissionQuotaExceeded is throttling but not transient: the day's limit must pass."""
    error = smtp_reply_error(
        step=Step.DATA, code=554, reply="5.2.0 SubmissionQuotaExceededException", host=M365
    )
    assert isinstance(error, MailThrottledError) and not error.transient
    assert "24 hours" in error.user_message


def test_smtp_reply_error_recipient_refusal_carries_recipient_and_reply():
    """A refused recipient names the address, the server's words and whether it is temporary."""
    error = smtp_reply_error(
        step=Step.RCPT, code=451, reply="4.7.1 Greylisted", host=OTHER, recipient="a@example.test"
    )
    assert isinstance(error, RecipientRefusedError) and error.transient
    assert error.recipient == "a@example.test" and error.step == "RCPT"
    assert "a@example.test" in error.user_message and "451 4.7.1 Greylisted" in error.user_message
    assert "temporary" in error.user_message


def test_enhanced_status_finds_the_code_in_reply_text():
    """The RFC 3463 status is read from anywhere in the reply; none gives ""."""
    assert enhanced_status("Authentication unsuccessful 5.7.139 [AM0PR]") == "5.7.139"
    assert enhanced_status("OK queued as 12345") == ""


@given(
    step=st.sampled_from(list(Step)),
    code=st.integers(min_value=400, max_value=599),
    reply=st.text(max_size=200),
    host=st.sampled_from([GMAIL, M365, OTHER, ""]),
    mechanism=st.sampled_from(["", "PLAIN", "LOGIN", "XOAUTH2"]),
)
def test_smtp_reply_error_every_reply_is_explained(step, code, reply, host, mechanism):
    """Any 4xx/5xx reply maps to a named error with a message; exactly the 4xx are transient."""
    error = smtp_reply_error(step=step, code=code, reply=reply, host=host, mechanism=mechanism)
    assert isinstance(error, MailDeliveryError) and error.cause in CAUSES
    assert error.user_message.strip() and str(error) == error.user_message
    assert error.transient == (400 <= code < 500)
    assert (error.step, error.smtp_code, error.smtp_reply) == (step, code, reply)


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_delivery_error_every_cause_has_a_complete_message(cause):
    """Every cause code renders a message with no unfilled placeholder."""
    error = delivery_error(cause, host=OTHER, port=587, step="MAIL", smtp_code=550, smtp_reply="no")
    assert error.user_message and "{" not in error.user_message and error.cause == cause


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code, error.verify_message = code, message
    error.reason = "CERTIFICATE_VERIFY_FAILED"
    return error


@pytest.mark.parametrize(
    ("verify_code", "message", "cause"),
    [
        (
            62,
            "Hostname mismatch, certificate is not valid for 'smtp.x.test'.",
            "certificate_hostname_mismatch",
        ),
        (20, "unable to get local issuer certificate", "certificate_untrusted"),
        (18, "self-signed certificate", "certificate_untrusted"),
        (10, "certificate has expired", "certificate_untrusted"),
    ],
)
def test_tls_error_certificate_failures(verify_code, message, cause):
    """Certificate verification failures are untrusted or for another name, never transient."""
    error = tls_error(
        _verify_error(verify_code, message), step=Step.TLS, host=OTHER, port=465, ssl_tls="ssl"
    )
    assert error.cause == cause and not error.transient and error.step == "TLS"


def test_tls_error_wrong_version_means_ssl_on_a_starttls_port():
    """A plaintext banner read as TLS ("wrong version number") is explained only for SSL mode."""
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)")
    exc.reason = "WRONG_VERSION_NUMBER"
    assert (
        tls_error(exc, step=Step.TLS, host=OTHER, port=587, ssl_tls="ssl").cause
        == "ssl_on_starttls_port"
    )
    assert (
        tls_error(exc, step=Step.TLS, host=OTHER, port=587, ssl_tls="starttls").cause
        == "tls_failed"
    )


@pytest.mark.parametrize(
    ("exc", "phase", "port", "cause", "transient"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "tcp", 25, "connection_refused", True),
        (TimeoutError("timed out"), "tcp", 25, "timeout", True),
        (TimeoutError("timed out"), "banner", 25, "timeout", True),
        (TimeoutError("timed out"), "banner", 465, "plaintext_on_ssl_port", False),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "tcp",
            25,
            "host_not_found",
            False,
        ),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), "tcp", 25, "host_not_found", True),
        (OSError(113, "No route to host"), "tcp", 25, "connection_failed", True),
        (
            ConnectionResetError(104, "Connection reset by peer"),
            "session",
            25,
            "connection_lost",
            True,
        ),
    ],
)
def test_network_error_names_socket_failures(exc, phase, port, cause, transient):
    """Socket failures map by phase: refused, timed out, unknown host, lost."""
    error = network_error(
        exc, step=Step.CONNECT, host=OTHER, port=port, ssl_tls="starttls", phase=phase
    )
    assert (error.cause, error.transient) == (cause, transient)
