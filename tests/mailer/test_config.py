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
    assert config.password.reveal() == "global-secret"
    assert config.sources["mode"] == config.sources["username"] == "global:ADMIN"
    assert config.from_email == "kivi@acme.test"
    assert config.ready and config.mass_mail_allowed


def test_resolve_own_username_never_takes_global_password():
    """A user with only a username gets no global password: not ready, nothing mixed."""
    user = CardSettings(code="KIVI", email="kivi@acme.test", smtp_username="kivi@acme.test")
    config = sender_config_resolve(user=user, global_card=GLOBAL, platform=PLATFORM)
    assert config.username == "kivi@acme.test"
    assert not config.password
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


M365_GLOBAL = CardSettings(
    code="ADMIN",
    email="admin@acme.test",
    mail_sender="m365_oauth",
    mail_server="smtp.office365.com:587",
    ssl_tls="starttls",
    m365_token="usable",
    m365_account="admin@acme.test",
    card_id=2,
)


def test_resolve_global_password_not_sent_with_ssl_tls_no():
    """G's host with SSL/TLS No gets no global password: not ready, and the fix is named."""
    user = CardSettings(
        code="KIVI", email="kivi@acme.test", mail_server="SMTP.Acme.Test.:465", ssl_tls="no"
    )
    config = sender_config_resolve(user=user, global_card=GLOBAL, platform=PLATFORM)
    assert (config.host, config.port, config.ssl_tls) == ("smtp.acme.test.", 465, "no")
    assert config.username == "" and not config.password_set
    assert config.sources["username"] == config.sources["password_set"] == "user"
    assert not config.ready
    [entry] = [m for m in config.missing if m.startswith("smtp_password:")]
    assert "ADMIN" in entry and "smtp.acme.test:465 with SSL" in entry
    assert "card KIVI" in entry
    assert "global-secret" not in repr(config) + entry


def test_resolve_global_password_not_sent_to_another_port():
    """G's host on another port gets no global password, even with StartTLS."""
    user = CardSettings(
        code="KIVI", email="kivi@acme.test", mail_server="smtp.acme.test:587", ssl_tls="starttls"
    )
    config = sender_config_resolve(user=user, global_card=GLOBAL, platform=PLATFORM)
    assert (config.host, config.port) == ("smtp.acme.test", 587)
    assert config.username == "" and not config.password_set
    assert not config.ready
    assert any(m.startswith("smtp_password:") and "ADMIN" in m for m in config.missing)


def test_resolve_global_password_kept_on_same_server_with_blank_ssl_tls():
    """G's own host and port with SSL/TLS blank inherit G's SSL/TLS and G's credential pair."""
    user = CardSettings(code="KIVI", email="kivi@acme.test", mail_server="Smtp.Acme.Test:465")
    config = sender_config_resolve(user=user, global_card=GLOBAL, platform=PLATFORM)
    assert (config.host, config.port, config.ssl_tls) == ("smtp.acme.test", 465, "ssl")
    assert config.sources["host"] == "user"
    assert config.sources["ssl_tls"] == "global:ADMIN"
    assert config.username == "admin@acme.test" and config.password_set
    assert config.sources["username"] == config.sources["password_set"] == "global:ADMIN"
    assert config.ready


def test_resolve_own_server_without_username_uses_no_authentication():
    """Another host with Username blank gets no global password and no authentication."""
    user = CardSettings(code="KIVI", email="kivi@acme.test", mail_server="mail.kivi.test:587")
    config = sender_config_resolve(user=user, global_card=GLOBAL, platform=PLATFORM)
    assert config.username == "" and not config.password_set
    assert config.sources["username"] == "user"
    assert config.ready


def test_resolve_global_m365_token_not_sent_to_another_port():
    """G's Microsoft 365 token is not used on G's host with another port: not ready."""
    user = CardSettings(
        code="KIVI",
        email="kivi@acme.test",
        mail_sender="m365_oauth",
        mail_server="smtp.office365.com:25",
        card_id=1,
    )
    config = sender_config_resolve(user=user, global_card=M365_GLOBAL, platform=PLATFORM)
    assert config.m365_token_card_id is None
    assert config.username == ""
    assert not config.ready
    [entry] = [m for m in config.missing if m.startswith("m365_token:")]
    assert "ADMIN" in entry and "smtp.office365.com:587 with StartTLS" in entry


def test_resolve_global_m365_token_kept_on_default_server():
    """A user naming G's Microsoft 365 server as G has it still uses G's token."""
    user = CardSettings(
        code="KIVI",
        email="kivi@acme.test",
        mail_sender="m365_oauth",
        mail_server="smtp.office365.com:587",
        card_id=1,
    )
    config = sender_config_resolve(user=user, global_card=M365_GLOBAL, platform=PLATFORM)
    assert config.m365_token_card_id == 2
    assert config.sources["m365_token"] == "global:ADMIN"
    assert config.ready
