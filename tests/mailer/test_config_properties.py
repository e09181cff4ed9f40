"""Property tests of the resolver over combinations of user and global card fields."""

from __future__ import annotations

import dataclasses
import ipaddress
import json

from hypothesis import given
from hypothesis import strategies as st

from mailer.config import CardSettings, sender_config_resolve
from mailer.platform import Platform
from users.secrets import secret_reveal
from users.validation import SUGGESTED_SSL_TLS

SOURCES_OF_VALUES = (
    "mode",
    "host",
    "port",
    "ssl_tls",
    "username",
    "password_set",
    "from",
    "reply_to",
    "envelope_from",
    "mass_mail_allowed",
)

servers = st.sampled_from(
    [
        "",
        "smtp.acme.test:465",
        "smtp.acme.test:587",
        "SMTP.Acme.Test.:465",
        "smtp.acme.test:25",
        "mail.other.test:25",
        "smtp.office365.com:587",
        "smtp.office365.com:25",
        "[::1]:587",
        "[0:0::1]:587",
    ]
)
secrets = st.one_of(
    st.just(""), st.text("abcdef0123", min_size=4, max_size=8).map("SECRET-{}-X".format)
)


def cards(code: str) -> st.SearchStrategy[CardSettings]:
    return st.builds(
        CardSettings,
        code=st.just(code),
        email=st.sampled_from(["", f"{code.lower()}@acme.test"]),
        mail_sender=st.sampled_from(["directo", "smtp", "m365_oauth", "directo_reply_to"]),
        mail_server=servers,
        ssl_tls=st.sampled_from(["", "no", "ssl", "starttls"]),
        smtp_username=st.sampled_from(["", f"{code.lower()}-login"]),
        smtp_password=secrets,
        m365_token=st.sampled_from(["", "usable", "reauth_needed"]),
        m365_account=st.sampled_from(["", f"{code.lower()}@tenant.test"]),
        card_id=st.just(1 if code == "KIVI" else 2),
    )


platforms = st.builds(
    Platform,
    relay_host=st.just("relay.platform.test"),
    relay_port=st.sampled_from([25, 465, 587]),
    relay_ssl_tls=st.sampled_from(["no", "ssl", "starttls"]),
    relay_username=st.sampled_from(["", "relay-login"]),
    relay_password=secrets,
    company_slug=st.sampled_from(["", "acme-trading"]),
)


@given(user=cards("KIVI"), global_card=st.one_of(st.none(), cards("ADMIN")), platform=platforms)
def test_resolve_credentials_never_mix(user, global_card, platform):
    """Username and password always come as one pair from one card (or the platform)."""
    config = sender_config_resolve(user=user, global_card=global_card, platform=platform)
    assert config.sources["username"] == config.sources["password_set"]
    source = config.sources["username"]
    if source == "user":
        allowed = {(user.smtp_username, user.smtp_password), ("", ""), (user.smtp_username, "")}
        if config.mode == "m365_oauth":
            allowed.add((user.m365_account, ""))
        assert (config.username, config.password.reveal()) in allowed
    elif source == "platform":
        assert (config.username, config.password.reveal()) == (
            platform.relay_username,
            platform.relay_password,
        )
    else:
        assert global_card is not None and source == f"global:{global_card.code}"
        pairs = {(global_card.smtp_username, global_card.smtp_password)}
        if config.mode == "m365_oauth":
            pairs = {
                (global_card.smtp_username, ""),
                (global_card.smtp_username or global_card.m365_account, ""),
            }
        assert (config.username, config.password.reveal()) in pairs
    if user.smtp_username and config.mode == "smtp":
        assert (config.username, config.password.reveal()) == (
            user.smtp_username,
            secret_reveal(user.smtp_password),
        )


@given(user=cards("KIVI"), global_card=st.one_of(st.none(), cards("ADMIN")), platform=platforms)
def test_resolve_every_value_has_a_source(user, global_card, platform):
    """Every effective value names user, the global card or the platform as its source."""
    config = sender_config_resolve(user=user, global_card=global_card, platform=platform)
    valid = {"user", "platform"} | ({f"global:{global_card.code}"} if global_card else set())
    view = config.public_view()
    for key in SOURCES_OF_VALUES:
        assert key in view
        assert view["sources"][key] in valid, key
    assert set(view["sources"].values()) <= valid


@given(user=cards("KIVI"), global_card=st.one_of(st.none(), cards("ADMIN")), platform=platforms)
def test_resolve_public_view_has_no_secret(user, global_card, platform):
    """No password of any card or of the relay appears in the public view or the repr."""
    config = sender_config_resolve(user=user, global_card=global_card, platform=platform)
    shown = json.dumps(config.public_view()) + repr(config)
    for secret in (user.smtp_password, platform.relay_password) + (
        (global_card.smtp_password,) if global_card else ()
    ):
        if secret:
            assert secret not in shown


@given(user=cards("KIVI"), global_card=st.one_of(st.none(), cards("ADMIN")), platform=platforms)
def test_resolve_mode_and_mass_mail_follow_the_rules(user, global_card, platform):
    """Mode follows rule 1 and mass mail is allowed exactly for SMTP and Microsoft 365."""
    config = sender_config_resolve(user=user, global_card=global_card, platform=platform)
    if user.mail_sender != "directo":
        assert config.mode == user.mail_sender
    elif global_card is not None:
        assert config.mode == global_card.mail_sender
    else:
        assert config.mode == "directo"
    assert config.mass_mail_allowed == (config.mode in ("smtp", "m365_oauth"))
    assert config.ready == (not config.missing)
    if config.mode == "directo_reply_to":
        assert config.reply_to == user.email
        assert config.from_email == config.envelope_from == platform.event_mailbox_address
    elif config.mode in ("smtp", "m365_oauth"):
        assert config.from_email == user.email
        if config.ready:
            assert config.host and config.port in (25, 465, 587)


def _endpoint(mail_server: str) -> tuple[str, int]:
    host, _, port = mail_server.rpartition(":")
    host = host.strip("[]").lower().rstrip(".")
    return str(ipaddress.ip_address(host)) if ":" in host else host, int(port)


TLS_STRENGTH = {"no": 0, "ssl": 1, "starttls": 1}


@st.composite
def users_near_global(draw: st.DrawFn) -> tuple[CardSettings, CardSettings]:
    """Draw a global card and a user who often names G's host (any case, port and SSL/TLS)."""
    global_card, user = draw(cards("ADMIN")), draw(cards("KIVI"))
    if global_card.mail_server and draw(st.booleans()):
        host, _ = _endpoint(global_card.mail_server)
        spelled = draw(
            st.sampled_from([host, host.upper(), f"{host}."] if ":" not in host else [f"[{host}]"])
        )
        port = draw(st.sampled_from([25, 465, 587]))
        user = dataclasses.replace(
            user, mail_server=f"{spelled}:{port}", smtp_username="", smtp_password=""
        )
    return user, global_card


@given(pair=users_near_global(), platform=platforms)
def test_resolve_global_secret_never_goes_to_a_user_server(pair, platform):
    """G's password and token go only to G's host and port, never with weaker SSL/TLS."""
    user, global_card = pair
    config = sender_config_resolve(user=user, global_card=global_card, platform=platform)
    uses_global_secret = config.m365_token_card_id == 2 or (
        config.sources["password_set"] == "global:ADMIN" and config.password_set
    )
    if config.m365_token_card_id == 2:
        assert config.sources["m365_token"] == "global:ADMIN"
    if not uses_global_secret:
        return
    assert config.mode in ("smtp", "m365_oauth") and config.host and config.port
    if global_card.mail_server:
        global_host, global_port = _endpoint(global_card.mail_server)
    else:  # G itself would send to the Microsoft 365 default server
        assert config.mode == "m365_oauth"
        global_host, global_port = "smtp.office365.com", 587
    global_ssl_tls = global_card.ssl_tls or SUGGESTED_SSL_TLS[global_port]
    assert _endpoint(f"[{config.host}]:{config.port}") == (global_host, global_port)
    assert TLS_STRENGTH[config.ssl_tls] >= TLS_STRENGTH[global_ssl_tls]
