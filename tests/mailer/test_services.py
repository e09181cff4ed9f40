"""mail_transport_get: resolved settings become a transport, or a named refusal."""

from __future__ import annotations

import pytest

from mailer.config import CardSettings, sender_config_resolve
from mailer.exceptions import MailSettingsError
from mailer.platform import Platform
from mailer.services import mail_transport_get

USER, PASSWORD = "kivi@acme.test", "Sälajane-parool-42"
RECIPIENT = "customer@example.test"
MESSAGE = b"From: kivi@acme.test\r\nTo: customer@example.test\r\nSubject: Invoice 1\r\n\r\nHi.\r\n"
PLATFORM = Platform(relay_host="relay.test", relay_port=25, relay_ssl_tls="no")


def test_mail_transport_get_refuses_incomplete_settings(smtp_settings):
    """Settings the resolver marked not ready raise settings_incomplete naming what is missing."""
    user = CardSettings(code="KIVI", email=USER, mail_sender="smtp")
    config = sender_config_resolve(user=user, global_card=None, platform=PLATFORM)
    with pytest.raises(MailSettingsError) as info:
        mail_transport_get(config=config)
    assert info.value.cause == "settings_incomplete" and "mail_server" in info.value.user_message


def test_mail_transport_get_delivers_with_resolved_settings(smtp_server):
    """A ready SenderConfig becomes a transport with its host, port, TLS mode and credentials."""
    server = smtp_server(tls="ssl", users={USER: PASSWORD}, by_address=True)
    user = CardSettings(
        code="KIVI",
        email=USER,
        mail_sender="smtp",
        mail_server=f"{server.address}:{server.port}",
        ssl_tls="ssl",
        smtp_username=USER,
        smtp_password=PASSWORD,
    )
    config = sender_config_resolve(user=user, global_card=None, platform=PLATFORM)
    with mail_transport_get(config=config) as transport:
        transport.send(config.envelope_from, [RECIPIENT], MESSAGE)
    assert PASSWORD not in repr(transport)
    assert (transport.host, transport.port, transport.ssl_tls) == (
        server.address,
        server.port,
        "ssl",
    )
    assert [(d.login, d.tls) for d in server.sink.deliveries] == [(USER, True)]
