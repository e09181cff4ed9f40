"""VERP-style bounce addresses: `<slug>+<CODE>.<tag>@<event domain>` names the sender's card.

The tag is a keyed hash of the code, so a forged bounce cannot put events on any card it likes.
"""

from __future__ import annotations

import re

from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "deliverability.verp"
_TAG_LENGTH = 10
_LOCAL = re.compile(r"^[^+@]+\+(?P<code>[^@]+)\.(?P<tag>[0-9a-f]{10})$", re.IGNORECASE)


def _tag(code: str) -> str:
    return salted_hmac(_SALT, code.lower(), algorithm="sha256").hexdigest()[:_TAG_LENGTH]


def verp_address_make(*, mailbox: str, card_code: str) -> str:
    """Return the bounce address of one card's mail, from the event mailbox address."""
    local, _, domain = mailbox.rpartition("@")
    # A user code may hold "@"; "=" may not, so it stands in (as in classic VERP).
    encoded = card_code.replace("@", "=")
    return f"{local}+{encoded}.{_tag(card_code)}@{domain}"


def verp_card_code(address: str) -> str | None:
    """Return the card code a VERP bounce address names, or None if it names none validly."""
    local = address.strip().strip("<>").rpartition("@")[0]
    match = _LOCAL.match(local)
    if match is None:
        return None
    code = match.group("code").replace("=", "@")
    if not constant_time_compare(match.group("tag").lower(), _tag(code)):
        return None
    return code
