"""Fixtures of the card pages: form data and a real Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from users.forms import CARD_FIELDS
from users.models import UserCard


@pytest.fixture
def card_post_data() -> Callable[..., dict[str, Any]]:
    """Return a builder of the POST data a browser sends for a card, with overrides."""

    def build(card: UserCard, **overrides: Any) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in CARD_FIELDS:
            value = getattr(card, name)
            if name == "smtp_password":
                value = ""  # the browser never receives it, so it never sends it back
            if isinstance(value, bool):
                if value:
                    data[name] = "on"
                continue
            data[name] = value
        for name, value in overrides.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        return data

    return build
