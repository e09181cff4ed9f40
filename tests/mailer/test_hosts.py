"""Mail servers on internal addresses are refused in every spelling (MAILER_ALLOW_PRIVATE_HOSTS).

IP literals are decided without any network I/O (a test fails if `getaddrinfo` is called); the
only name resolved is `localhost`, which /etc/hosts answers.
"""

from __future__ import annotations

import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import MailEvent
from mailer.exceptions import MailConnectionError
from mailer.hosts import mail_host_resolve
from tests.factories import SmtpCardFactory

REFUSED = [
    # IPv4: loopback, private, link-local (cloud metadata), shared address space, unspecified,
    # multicast, reserved, broadcast.
    "127.0.0.1",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    # IPv4 in the resolver's legacy spellings: decimal, hex, octal, short forms.
    "2130706433",
    "0x7f.1",
    "017700000001",
    "127.1",
    "0177.0.0.1",
    "0xa9fea9fe",
    "3232235777",
    # IPv6: loopback, unspecified, link-local, unique local, site-local, multicast, documentation.
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "2001:db8::1",
    # NAT64 well-known prefix (RFC 6052) and the local-use prefix (RFC 8215, refused whole).
    "64:ff9b::127.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::10.0.0.1",
    "64:ff9b::100.64.0.1",
    "64:ff9b:1::10.0.0.1",
    "64:ff9b:1::8.8.8.8",
    # IPv4-compatible (deprecated) and IPv4-mapped IPv6.
    "::127.0.0.1",
    "::10.0.0.1",
    "::169.254.169.254",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:100.64.0.1",
    # 6to4: the IPv4 address in bits 16-48.
    "2002:7f00:1::1",
    "2002:a00:1::",
    "2002:a9fe:a9fe::1",
    "2002:c0a8:101::1",
    # Teredo: server 10.0.0.1; client 127.0.0.1 and 192.168.1.1 (stored inverted).
    "2001:0:a00:1:8000:63bf:f7f7:f7f7",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "2001:0:4136:e378:8000:63bf:3f57:fefe",
]

ALLOWED = [
    ("8.8.8.8", "8.8.8.8"),
    ("134744072", "8.8.8.8"),
    ("2001:4860:4860::8888", "2001:4860:4860::8888"),
    ("64:ff9b::8.8.8.8", "64:ff9b::808:808"),
    ("::ffff:8.8.8.8", "::ffff:8.8.8.8"),
    ("::8.8.8.8", "::808:808"),
    ("2002:0808:0808::1", "2002:808:808::1"),
    # Teredo: server 65.54.227.120, client 8.8.8.8.
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "2001:0:4136:e378:8000:63bf:f7f7:f7f7"),
]


@pytest.fixture
def no_dns(monkeypatch):
    """Fail the test if anything asks the system resolver (IP literals need no lookup)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"getaddrinfo called for {args[0]!r}: an IP literal needs no lookup")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("host", REFUSED)
def test_mail_host_resolve_refuses_internal_address_in_every_form(host, settings, no_dns):
    """An internal IPv4 address is refused however it is written, with no network I/O."""
    settings.MAILER_ALLOW_PRIVATE_HOSTS = False
    with pytest.raises(MailConnectionError) as excinfo:
        mail_host_resolve(host=host, port=587)
    assert excinfo.value.cause == "host_not_allowed"
    assert not excinfo.value.transient
    assert host in excinfo.value.user_message


@pytest.mark.parametrize(("host", "address"), ALLOWED)
def test_mail_host_resolve_allows_public_address_in_every_form(host, address, settings, no_dns):
    """A public address is allowed in the same forms, decided without any network I/O."""
    settings.MAILER_ALLOW_PRIVATE_HOSTS = False
    assert mail_host_resolve(host=host, port=587) == address


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "::ffff:10.0.0.1"])
def test_mail_host_resolve_allows_internal_address_when_configured(host, settings, no_dns):
    """MAILER_ALLOW_PRIVATE_HOSTS lets internal servers through (development and tests)."""
    settings.MAILER_ALLOW_PRIVATE_HOSTS = True
    assert mail_host_resolve(host=host, port=587)


def test_mail_host_resolve_refusal_hides_resolved_address(settings):
    """Refusing an internal name says so without revealing the address it resolves to."""
    settings.MAILER_ALLOW_PRIVATE_HOSTS = False
    resolved = {info[4][0] for info in socket.getaddrinfo("localhost", 587)}
    with pytest.raises(MailConnectionError) as excinfo:
        mail_host_resolve(host="localhost", port=587)
    error = excinfo.value
    assert "localhost" in error.user_message
    assert "internal" in error.user_message
    shown = " ".join([str(error), repr(error), error.user_message, str(vars(error))])
    for address in resolved | {"127.0.0.1", "::1"}:
        assert address not in shown


@pytest.mark.django_db
def test_mail_host_resolve_refusal_event_hides_resolved_address(settings):
    """The event and the command error of a refused internal name carry no resolved address."""
    settings.MAILER_ALLOW_PRIVATE_HOSTS = False
    SmtpCardFactory(
        code="KIVI",
        email="kivi@acme.test",
        mail_server="localhost:587",
        smtp_username="",
        smtp_password="",
    )
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("sendtestmail", "KIVI", "--to", "c@example.test", stdout=out)
    event = MailEvent.objects.get(user_code="KIVI")
    assert event.cause == "host_not_allowed"
    assert "localhost" in event.message
    shown = " ".join([str(excinfo.value), out.getvalue(), event.message, event.smtp_reply])
    assert "127.0.0.1" not in shown and "::1" not in shown
