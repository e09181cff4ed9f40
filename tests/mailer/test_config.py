"""The resolver's rules (SPEC.md "The resolver")."""

from __future__ import annotations

from mailer.config import CardSettings, sender_config_resolve
from mailer.platform import Platform

PLATFORM = Platform(
    relay_host="relay.platform.test",
    relay_port=25,
    relay_ssl_tls="no",
    event_domain="event.data.directo.ee",
    company_slug="acme-trading",
)
GLOBAL = CardSettings(
    code="ADMIN",
    email="admin@acme.test",
    mail_sender="smtp",
    mail_server="smtp.acme.test:465",
    ssl_tls="ssl",
    smtp_username="admin@acme.test",
    smtp_password="global-secret",
)


def test_resolve_directo_user_inherits_global_smtp():
    """A user left on Directo takes the global card's mode, server and credential pair."""
    user = CardSettings(code="KIVI", email="kivi@acme.test")
    config = sender_config_resolve(user=user, global_card=GLOBAL, platform=PLATFORM)
    assert (config.mode, config.host, config.port, config.ssl_tls) == (
        "smtp",
        "smtp.acme.test",
        465,
        "ssl",
    )
    assert config.username == "admin@acme.test"
    assert config.password == "global-secret"
    assert config.sources["mode"] == config.sources["username"] == "global:ADMIN"
    assert config.from_email == "kivi@acme.test"
    assert config.ready and config.mass_mail_allowed


def test_resolve_own_username_never_takes_global_password():
    """A user with only a username gets no global password: not ready, nothing mixed."""
    user = CardSettings(code="KIVI", email="kivi@acme.test", smtp_username="kivi@acme.test")
    config = sender_config_resolve(user=user, global_card=GLOBAL, platform=PLATFORM)
    assert config.username == "kivi@acme.test"
    assert config.password == ""
    assert not config.ready
    assert any(m.startswith("smtp_password") for m in config.missing)


def test_resolve_directo_reply_to_uses_event_mailbox():
    """Directo-Reply-To sends from the event mailbox with the user as Reply-To."""
    user = CardSettings(code="KIVI", email="kivi@acme.test", mail_sender="directo_reply_to")
    config = sender_config_resolve(user=user, global_card=GLOBAL, platform=PLATFORM)
    assert config.from_email == "acme-trading@event.data.directo.ee"
    assert config.envelope_from == "acme-trading@event.data.directo.ee"
    assert config.reply_to == "kivi@acme.test"
    assert config.host == "relay.platform.test"
    assert not config.mass_mail_allowed
    assert "global-secret" not in repr(config)
