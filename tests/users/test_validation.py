"""host:port parsing, SSL/TLS hints and header safety of card values."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from users.validation import (
    gmail_app_password_normalize,
    has_control_characters,
    mail_server_parse,
    reject_control_characters,
    ssl_tls_warning,
)

labels = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z")
hostnames = st.lists(labels, min_size=1, max_size=4).map(".".join)


@given(host=hostnames, port=st.sampled_from([25, 465, 587]))
def test_mail_server_parse_round_trips_hostnames(host, port):
    """Any valid host name with an allowed port parses back to itself."""
    server = mail_server_parse(f"{host}:{port}")
    assert (server.host, server.port) == (host, port)
    assert str(server) == f"{host}:{port}"


@given(address=st.ip_addresses(v=6), port=st.sampled_from([25, 465, 587]))
def test_mail_server_parse_accepts_bracketed_ipv6(address, port):
    """IPv6 servers are written in brackets and keep their port."""
    server = mail_server_parse(f"[{address}]:{port}")
    assert ipaddress.IPv6Address(server.host) == address
    assert server.port == port
    assert str(server).startswith("[")


@given(port=st.integers(min_value=0, max_value=70000).filter(lambda p: p not in (25, 465, 587)))
def test_mail_server_parse_refuses_other_ports(port):
    """Only ports 25, 465 and 587 are accepted, with a message naming them."""
    with pytest.raises(ValidationError) as excinfo:
        mail_server_parse(f"smtp.example.test:{port}")
    assert "465" in excinfo.value.messages[0] and "587" in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("smtp.gmail.com", "Add the port"),
        ("::1:587", "brackets"),
        ("[::1]587", "[address]:port"),
        ("[not-ip]:587", "not an IPv6 address"),
        ("bad_host!:465", "not a valid host name"),
        ("smtp.example.test:abc", "not a number"),
        (":465", "not a valid host name"),
    ],
)
def test_mail_server_parse_explains_the_fix(value, fragment):
    """Each malformed server value gets a message that names the fix."""
    with pytest.raises(ValidationError) as excinfo:
        mail_server_parse(value)
    assert fragment in excinfo.value.messages[0]


@given(text=st.text(), bad=st.sampled_from(["\r", "\n", "\x00"]), at=st.integers(0, 50))
def test_reject_control_characters_refuses_cr_lf_nul(text, bad, at):
    """A CR, LF or NUL anywhere in a value is refused."""
    position = min(at, len(text))
    with pytest.raises(ValidationError):
        reject_control_characters(text[:position] + bad + text[position:])


@given(text=st.text().filter(lambda t: not any(c in t for c in "\r\n\x00")))
def test_reject_control_characters_accepts_other_text(text):
    """Text without CR, LF or NUL passes."""
    reject_control_characters(text)


@given(text=st.text(), bad=st.sampled_from(["\r", "\n", "\x00"]), at=st.integers(0, 50))
def test_has_control_characters_finds_cr_lf_and_nul_unless_told(text, bad, at):
    """CR, LF and NUL anywhere are found; with nul=False a NUL alone is not."""
    value = text[: min(at, len(text))] + bad + text[min(at, len(text)) :]
    assert has_control_characters(value)
    assert has_control_characters(value, nul=False) == any(c in value for c in "\r\n")


@pytest.mark.parametrize(
    ("port", "ssl_tls", "expected"),
    [
        (465, "ssl", None),
        (587, "starttls", None),
        (25, "starttls", None),
        (465, "starttls", "SSL"),
        (587, "ssl", "StartTLS"),
        (587, "no", "unencrypted"),
        (465, "", None),
    ],
)
def test_ssl_tls_warning_names_the_fix(port, ssl_tls, expected):
    """A mismatch between port and SSL/TLS warns and names the right choice."""
    warning = ssl_tls_warning(port, ssl_tls)
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning


def test_gmail_app_password_normalize_strips_spaces():
    """Google's spaced 16-letter app password is stored without spaces."""
    assert gmail_app_password_normalize("abcd efgh ijkl mnop") == "abcdefghijklmnop"
    assert gmail_app_password_normalize(" abcd efgh ijkl mnop ") == "abcdefghijklmnop"
    assert gmail_app_password_normalize("short pass") == "short pass"
