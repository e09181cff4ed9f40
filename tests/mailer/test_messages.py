"""Messages built per mode, and header safety."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.config import CardSettings, sender_config_resolve
from mailer.messages import Attachment, HeaderInjectionError, message_build, message_envelope
from mailer.platform import Platform
from mailer.verp import verp_address_parse

PLATFORM = Platform(
    relay_host="relay.platform.test",
    relay_port=25,
    relay_ssl_tls="no",
    company_slug="acme-trading",
)


def _config(mode: str):
    user = CardSettings(
        code="KIVI", email="kivi@acme.test", mail_sender=mode, mail_server="smtp.acme.test:465"
    )
    return sender_config_resolve(user=user, global_card=None, platform=PLATFORM)


def test_message_build_directo_reply_to_addresses():
    """Directo-Reply-To: From and signed VERP envelope are the event mailbox, Reply-To the user."""
    config = _config("directo_reply_to")
    message = message_build(config=config, to=["c@example.test"], subject="Invoice 1", body="Hi")
    sender, recipients, raw = message_envelope(message, config)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    verp = verp_address_parse(sender)
    assert sender.startswith("acme-trading+kivi.")
    assert sender.endswith("@event.data.directo.ee")
    assert verp is not None
    assert verp.names_message(parsed["Message-ID"])
    assert parsed["From"] == "acme-trading@event.data.directo.ee"
    assert parsed["Reply-To"] == "kivi@acme.test"
    assert recipients == ["c@example.test"]
    assert parsed["Message-ID"].endswith("@event.data.directo.ee>")


def test_message_build_smtp_from_user_with_attachment():
    """SMTP mode: From is the user's address and attachments travel as MIME parts."""
    config = _config("smtp")
    message = message_build(
        config=config,
        to=["c@example.test"],
        subject="Invoice 2",
        body="See attached",
        attachments=[Attachment("invoice-2.pdf", b"%PDF-1.4 test", "application/pdf")],
        message_id="<fixed@acme.test>",
    )
    sender, _, raw = message_envelope(message, config)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert sender == parsed["From"] == "kivi@acme.test"
    assert parsed["Reply-To"] is None
    assert parsed["Message-ID"] == "<fixed@acme.test>"
    parts = [part.get_filename() for part in parsed.iter_attachments()]
    assert parts == ["invoice-2.pdf"]


@given(
    field=st.sampled_from(["subject", "to", "cc", "header"]),
    prefix=st.text(alphabet="abc xyz@.", max_size=10),
    bad=st.sampled_from(["\r\n", "\n", "\r", "\x00"]),
)
def test_message_build_refuses_header_injection(field, prefix, bad):
    """CR, LF or NUL in any header or address is refused with HeaderInjectionError."""
    config = _config("smtp")
    value = f"{prefix}{bad}Bcc: victim@example.test"
    kwargs = {"subject": "ok", "to": ["c@example.test"], "cc": [], "headers": {}}
    if field == "subject":
        kwargs["subject"] = value
    elif field == "to":
        kwargs["to"] = [value]
    elif field == "cc":
        kwargs["cc"] = [value]
    else:
        kwargs["headers"] = {"X-Note": value}
    with pytest.raises(HeaderInjectionError) as excinfo:
        message_build(config=config, body="b", **kwargs)
    assert "line break" in excinfo.value.user_message
