"""Fixtures of the card pages: form data and a real Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from tests.conftest import service_missing
from users.forms import CARD_FIELDS
from users.models import UserCard

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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


@pytest.fixture
def chromium_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Yield a Playwright page in Debian's Chromium; fail under CI when it is missing."""
    if not CHROMIUM.exists():
        service_missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the playwright package is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test
    # (fixtures, assertions) are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.set_default_timeout(10_000)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()
            # Inside Playwright's event loop asgiref gives this thread fresh database
            # connections; close them, or the test database cannot be dropped afterwards.
            connections.close_all()
