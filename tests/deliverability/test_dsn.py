"""Bounce parsing: RFC 3464 DSNs, Postfix/Exim/Microsoft/qmail text, and hostile bytes."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deliverability.dsn import bounce_parse, message_id_normalize, text_clean
from deliverability.services import bounce_cause
from tests.deliverability import bounces
from tests.deliverability.bounces import DIAGNOSTIC, ORIGINAL_ID


def test_bounce_parse_rfc3464_reads_recipient_status_diagnostic_and_message_id():
    """A multipart/report DSN gives the final recipient, status, diagnostic and original ID."""
    report = bounce_parse(bounces.rfc3464())
    assert report is not None
    assert report.format == "rfc3464"
    assert report.original_message_id == ORIGINAL_ID
    (recipient,) = report.failed
    assert recipient.recipient == "ghost@customer.test"
    assert recipient.status == "5.1.1"
    assert recipient.diagnostic == DIAGNOSTIC
    assert recipient.smtp_code == 550
    assert recipient.remote_mta == "mail.customer.test"
    assert report.original_header("Reply-To") == "kivi@seller.test"


def test_bounce_parse_rfc3464_headers_only_attachment():
    """text/rfc822-headers (the original's headers only) still yields the Message-ID."""
    report = bounce_parse(bounces.rfc3464(headers_only=True))
    assert report is not None
    assert report.original_message_id == ORIGINAL_ID


def test_bounce_parse_rfc3464_delayed_is_not_failed():
    """Action: delayed is reported but is not a failure."""
    report = bounce_parse(bounces.rfc3464(action="delayed", status="4.4.1"))
    assert report is not None
    assert report.failed == ()
    assert report.recipients[0].action == "delayed"


def test_bounce_parse_rfc3464_delivered_is_not_a_bounce():
    """A DSN that only reports delivery (Action: delivered) is not a bounce."""
    assert bounce_parse(bounces.rfc3464(action="delivered", status="2.0.0")) is None


@pytest.mark.parametrize(
    ("raw", "fmt", "status", "words"),
    [
        (bounces.POSTFIX_TEXT, "postfix", "5.1.1", "Recipient address rejected: User unknown"),
        (bounces.EXIM_TEXT, "exim", "5.1.1", "550 5.1.1 User unknown"),
        (bounces.MICROSOFT_TEXT, "microsoft", "5.1.10", "RESOLVER.ADR.RecipientNotFound"),
        (bounces.QMAIL_TEXT, "qmail", "5.2.2", "Remote host said: 550 5.2.2 Mailbox full"),
    ],
)
def test_bounce_parse_plain_text_formats(raw, fmt, status, words):
    """Non-standard bounces give the recipient, status, diagnostic and original Message-ID."""
    report = bounce_parse(raw)
    assert report is not None
    assert report.format == fmt
    (recipient,) = report.failed
    assert recipient.recipient == "ghost@customer.test"
    assert recipient.status == status
    assert words in recipient.diagnostic
    assert report.original_message_id == ORIGINAL_ID


def test_bounce_parse_ordinary_mail_is_none():
    """A reply from a person is not a bounce."""
    assert bounce_parse(bounces.PLAIN_REPLY) is None


def test_bounce_parse_deeply_nested_mime_is_quick_and_safe():
    """Thousands of nested multiparts neither raise nor take long."""
    started = time.monotonic()
    assert bounce_parse(bounces.nested_mime(3000)) is None
    assert time.monotonic() - started < 10


def test_bounce_parse_long_whitespace_runs_are_linear():
    """A hostile body of whitespace after a bounce marker does not backtrack for long."""
    raw = b"Subject: x\r\n\r\nThe mail system could not\n<a@b.test>:" + b" \n" * 100_000
    started = time.monotonic()
    bounce_parse(raw)
    assert time.monotonic() - started < 5


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "build",
    [
        pytest.param(bounces.hostile_microsoft_blank_lines, id="microsoft-blank-lines"),
        pytest.param(bounces.hostile_exim_address_line, id="exim-a@a@a-line-in-base64"),
        pytest.param(bounces.hostile_whitespace_after_markers, id="whitespace-after-markers"),
        pytest.param(bounces.hostile_status_part, id="status-part-blank-lines"),
    ],
)
def test_bounce_parse_hostile_400kb_bounce_is_linear(build):
    """A 400 KB bounce built to make a pattern backtrack is parsed in well under a second."""
    raw = build()
    assert len(raw) >= bounces.HOSTILE_SIZE
    started = time.monotonic()
    bounce_parse(raw)
    assert time.monotonic() - started < 2


@pytest.mark.timeout(30)
def test_bounce_parse_time_grows_linearly_with_hostile_size():
    """Doubling a hostile bounce (blank lines, a@a@a… line) at most about doubles parse time."""

    def elapsed(raw: bytes) -> float:
        started = time.monotonic()
        for _ in range(3):
            bounce_parse(raw)
        return time.monotonic() - started

    for build in (bounces.hostile_microsoft_blank_lines, bounces.hostile_exim_address_line):
        small = elapsed(build(100 * 1024))
        large = elapsed(build(200 * 1024))
        # Quadratic time would make this 4x; allow noise on a busy machine.
        assert large < max(small * 3, 0.5)


def test_bounce_parse_microsoft_status_line_stays_on_its_line():
    """The Microsoft status line is found on its own line, not across preceding blank lines."""
    raw = (
        b"Subject: Undeliverable\r\n\r\nDelivery has failed to these recipients or groups:\r\n"
        b"ghost@customer.test\r\n\r\n\r\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\r\n"
    )
    report = bounce_parse(raw)
    assert report is not None
    (recipient,) = report.failed
    assert recipient.diagnostic == "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
    assert recipient.status == "5.1.1"


def test_bounce_parse_exim_reads_several_addresses_after_blank_line():
    """Exim's list may start after a blank line and name several addresses with diagnostics."""
    raw = bounces.base64_text(
        "The following address(es) failed:\n\n"
        "  one@customer.test\n    550 5.1.1 User unknown\n"
        "  two@customer.test:\n\t552 5.2.2 Mailbox full\n"
        "\n\n  three@customer.test\n    550 5.1.1 not in the list any more\n"
    )
    report = bounce_parse(raw)
    assert report is not None
    assert [(r.recipient, r.status) for r in report.failed] == [
        ("one@customer.test", "5.1.1"),
        ("two@customer.test", "5.2.2"),
    ]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=4000))
def test_bounce_parse_never_raises_on_arbitrary_bytes(raw):
    """Any bytes give a report or None, never an exception."""
    result = bounce_parse(raw)
    assert result is None or result.format


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.integers(min_value=0, max_value=2500), st.binary(min_size=1, max_size=60))
def test_bounce_parse_never_raises_on_mangled_dsn(position, junk):
    """A real DSN with junk spliced in anywhere never raises."""
    raw = bounces.rfc3464()
    mangled = raw[:position] + junk + raw[position:]
    result = bounce_parse(mangled)
    assert result is None or all(r.action in ("failed", "delayed") for r in result.recipients)


def test_text_clean_removes_nul_controls_and_lone_surrogates():
    """Stored text holds no NUL, control characters or unencodable surrogates."""
    cleaned = text_clean("a\x00b\x07c\udcffd\r\ne")
    assert "\x00" not in cleaned
    assert "\x07" not in cleaned
    cleaned.encode("utf-8")  # raises if a lone surrogate survived
    assert cleaned.startswith("a b c")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("<a@b>", "<a@b>"), ("  <a@b> (comment)", "<a@b>"), ("a@b", "<a@b>"), ("", "")],
)
def test_message_id_normalize_gives_angle_bracket_form(value, expected):
    """Message-IDs compare in their `<id>` form."""
    assert message_id_normalize(value) == expected


@pytest.mark.parametrize(
    ("status", "diagnostic", "cause"),
    [
        ("5.1.1", "550 5.1.1 User unknown", "recipient_unknown"),
        ("5.1.2", "550 5.1.2 Host unknown", "domain_unknown"),
        ("5.2.2", "552 5.2.2 Mailbox full", "mailbox_full"),
        ("5.7.1", "550 5.7.1 Message rejected as spam", "rejected_policy"),
        ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted", "rejected_authentication"),
        ("5.7.1", "550 5.7.1 SPF check failed", "rejected_authentication"),
        ("5.0.0", "550 Rejected", "bounced"),
    ],
)
def test_bounce_cause_from_status_and_diagnostic(status, diagnostic, cause):
    """The event cause follows the enhanced status code (and SPF/DMARC words)."""
    assert bounce_cause(status, diagnostic) == cause
