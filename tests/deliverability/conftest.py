"""Fixtures of the deliverability tests: a real DNS server and the event mailbox on loopback."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache

from deliverability import dns as deliverability_dns
from deliverability.limits import MailboxLimits
from deliverability.receiver import EventMailboxController
from tests.deliverability.dns_server import PLATFORM_IPS, LocalDns, local_dns_start
from tests.smtp_servers import loopback_address


@pytest.fixture(scope="session")
def local_dns() -> Iterator[LocalDns]:
    """A dnslib server on 127.x.y.z (UDP and TCP) serving the test zone, and a silent one."""
    server = local_dns_start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _dns_settings(settings, local_dns: LocalDns, monkeypatch) -> Iterator[None]:
    """Point the diagnostics at the test DNS server and the test platform IPs; empty cache."""
    settings.MAILER_DNS_NAMESERVERS = [local_dns.nameserver]
    settings.PLATFORM_OUTBOUND_IPS = list(PLATFORM_IPS)
    # A silent server must not hold a test for the production 3 s per lookup.
    monkeypatch.setattr(deliverability_dns, "LOOKUP_LIFETIME", 0.5)
    monkeypatch.setattr(deliverability_dns, "DIAGNOSIS_DEADLINE", 2.0)
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def event_mailbox_start() -> Iterator[Callable[..., EventMailboxController]]:
    """Start event mailbox receivers in-process on 127.x.y.z and free ports; stop them after."""
    controllers: list[EventMailboxController] = []

    def start(*, limits: MailboxLimits | None = None) -> EventMailboxController:
        for _attempt in range(10):
            address = loopback_address()
            with socket.socket() as probe:  # a free port on that address
                probe.bind((address, 0))
                port = probe.getsockname()[1]
            controller = EventMailboxController(host=address, port=port, limits=limits)
            try:
                controller.start()
            except OSError:
                continue
            controllers.append(controller)
            return controller
        raise RuntimeError("no free loopback address found")

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def event_mailbox(event_mailbox_start) -> EventMailboxController:
    """The event mailbox receiver with the limits of the settings, on 127.x.y.z."""
    return event_mailbox_start()
