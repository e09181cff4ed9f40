"""Signed VERP bounce addresses: they name the card and the message, and cannot be forged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.verp import (
    TAG_BYTES,
    verp_address_make,
    verp_address_parse,
    verp_message_ref,
)

MAILBOX = "acme-trading@event.data.directo.ee"
MESSAGE_ID = "<170000000.1.42@event.data.directo.ee>"


def test_verp_address_names_card_and_message():
    """A VERP address gives back the card code and proves the Message-ID it was made for."""
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=MESSAGE_ID)
    assert address.startswith("acme-trading+kivi.")
    assert address.endswith("@event.data.directo.ee")
    verp = verp_address_parse(address)
    assert verp is not None
    assert verp.card_code == "kivi"
    assert verp.names_message(MESSAGE_ID)
    assert verp.names_message(MESSAGE_ID.strip("<>"))
    assert not verp.names_message("<other.1@event.data.directo.ee>")
    assert not verp.names_message("")


def test_verp_tag_has_at_least_64_bits():
    """The tag is an HMAC of at least 64 bits (80), in base32."""
    assert TAG_BYTES * 8 >= 64
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=MESSAGE_ID)
    tag = address.partition("@")[0].rsplit(".", 1)[1]
    assert len(tag) * 5 >= 80


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.@+_-]{0,29}", fullmatch=True))
def test_verp_address_round_trips_every_valid_code(code):
    """Every user code (letters, digits, . @ + - _) round-trips as a dot-atom local part."""
    address = verp_address_make(mailbox=MAILBOX, card_code=code, message_id=MESSAGE_ID)
    local = address.rpartition("@")[0]
    assert ".." not in local
    assert "@" not in local
    verp = verp_address_parse(address)
    assert verp is not None
    assert verp.card_code == code.lower()


def test_verp_address_survives_upper_casing():
    """A server that upper-cases the local part does not break the signature."""
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=MESSAGE_ID)
    verp = verp_address_parse(address.upper())
    assert verp is not None
    assert verp.card_code == "kivi"


def _flip_last(text: str) -> str:
    return text[:-1] + ("a" if text[-1] != "a" else "b")


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda local: _flip_last(local), id="bad-tag"),
        pytest.param(lambda local: local.replace("+kivi.", "+mari."), id="other-card"),
        pytest.param(
            lambda local: local.replace(verp_message_ref(MESSAGE_ID), verp_message_ref("<x@y>")),
            id="other-message",
        ),
        pytest.param(lambda local: local.rsplit(".", 1)[0], id="no-tag"),
        pytest.param(lambda local: local.split("+")[0], id="plain-mailbox"),
        pytest.param(lambda local: local.replace("+kivi.", "+ki=76i."), id="other-spelling"),
    ],
)
def test_verp_address_parse_refuses_forged_addresses(forge):
    """A changed tag, card, message reference or spelling names no card."""
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=MESSAGE_ID)
    local, _, domain = address.partition("@")
    assert verp_address_parse(f"{forge(local)}@{domain}") is None


def test_verp_address_parse_depends_on_secret_key(settings):
    """The tag is keyed: another SECRET_KEY refuses it, a SECRET_KEY_FALLBACKS entry accepts it."""
    address = verp_address_make(mailbox=MAILBOX, card_code="KIVI", message_id=MESSAGE_ID)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert verp_address_parse(address) is None
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert verp_address_parse(address) is not None
