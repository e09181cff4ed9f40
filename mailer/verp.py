"""Signed VERP bounce addresses: `<slug>+<code>.<ref>.<tag>@<event domain>`.

Every message whose bounces come to the event mailbox carries one as its envelope sender, so
the bounce's envelope recipient says which card sent it (SPEC.md "Events"):
- code: the sending card's code, lower-cased; bytes outside `[a-z0-9_-]` are written `=xx`;
- ref: a short hash of the message's Message-ID (names the message; not a secret);
- tag: an HMAC-SHA256 of code and ref, 80 bits in base32. It is made with Django's
  `salted_hmac`, keyed by SECRET_KEY (SECRET_KEY_FALLBACKS still verify after a rotation), so
  no sender can make a valid address for a card or message it did not receive mail from.
Letters are lower case throughout: some servers change the case of a local part.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

# The salt keeps the name of the module it was first in: a new one would void sent addresses.
_SALT = "deliverability.verp.v2"
TAG_BYTES = 10  # 80 bits
REF_BYTES = 5  # 40 bits: tells one card's messages apart; the tag authenticates it
_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPE = re.compile(r"=([0-9a-f]{2})")
_TOKEN = re.compile(r"[a-z0-9_=-]{1,200}")
_BASE32 = re.compile(r"[a-z2-7]+")


@dataclass(frozen=True)
class VerpAddress:
    """What a verified VERP address says: the sending card and a reference to the message."""

    card_code: str
    message_ref: str

    def names_message(self, message_id: str) -> bool:
        """Return whether the address was made for the message with this Message-ID."""
        return bool(message_id) and constant_time_compare(
            self.message_ref, verp_message_ref(message_id)
        )


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _tag(code: str, ref: str, *, secret: str | None = None) -> str:
    digest = salted_hmac(_SALT, f"{code}\x00{ref}", secret=secret, algorithm="sha256").digest()
    return _b32(digest[:TAG_BYTES])


def _code_encode(code: str) -> str:
    return "".join(
        chr(byte) if byte in _PLAIN else f"={byte:02x}" for byte in code.lower().encode()
    )


def _code_decode(token: str) -> str | None:
    try:
        return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), token).encode("latin-1").decode()
    except UnicodeError:
        return None


def verp_message_ref(message_id: str) -> str:
    """Return the reference of a Message-ID that a VERP address carries (not a secret)."""
    canonical = message_id.strip().strip("<>").strip()
    return _b32(hashlib.sha256(canonical.encode("utf-8", "replace")).digest()[:REF_BYTES])


def verp_address_make(*, mailbox: str, card_code: str, message_id: str) -> str:
    """Return the signed bounce address of one card's message, from the event mailbox address."""
    local, _, domain = mailbox.rpartition("@")
    code = card_code.lower()
    ref = verp_message_ref(message_id)
    return f"{local}+{_code_encode(code)}.{ref}.{_tag(code, ref)}@{domain}"


def verp_address_parse(address: str) -> VerpAddress | None:
    """Return what a VERP address says if its tag is valid, else None (forged or not VERP)."""
    local = address.strip().strip("<>").rpartition("@")[0].lower()
    _slug, plus, rest = local.partition("+")
    parts = rest.split(".")
    if not plus or len(parts) != 3:
        return None
    token, ref, tag = parts
    if not (_TOKEN.fullmatch(token) and _BASE32.fullmatch(ref) and _BASE32.fullmatch(tag)):
        return None
    code = _code_decode(token)
    if not code or _code_encode(code) != token:  # one spelling per code
        return None
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(constant_time_compare(tag, _tag(code, ref, secret=key)) for key in secrets):
        return None
    return VerpAddress(card_code=code, message_ref=ref)
