"""Real Chromium for page tests: Playwright's sync API driving Debian's /usr/bin/chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from tests.conftest import service_missing

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium tries Google's hosts, which are unreachable.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def chromium_context(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Yield a Playwright browser context in Debian's Chromium; fail under CI when missing."""
    if not CHROMIUM.exists():
        service_missing(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the playwright package is not installed")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # (fixtures, assertions) are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # A local identity provider's certificate comes from a test CA the browser lacks.
        context = browser.new_context(ignore_https_errors=True)
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()
            browser.close()
            # Inside Playwright's loop asgiref gave this thread fresh database connections:
            # close them, or the test database cannot be dropped afterwards.
            connections.close_all()


@pytest.fixture
def chromium_page(chromium_context: Any) -> Any:
    """Return a new page in the Chromium context."""
    return chromium_context.new_page()


#: The axe-core impacts a page must not have (axe's others: minor, moderate).
AXE_BLOCKING = ("serious", "critical")


def axe_serious(page: Any, *, undecided: bool = False) -> list[str]:
    """Return the page's serious and critical axe-core violations, one readable line each.

    Each line names the rule, its impact, what it asks and the CSS selectors of the failing
    nodes, so that a failed assertion says where to look. With `undecided`, the serious checks
    axe could not decide count too (e.g. the contrast of a button it cannot place because it
    overlaps its cell). axe-core comes bundled with axe-playwright-python and is injected into
    the page (nothing is downloaded).
    """
    from axe_playwright_python.sync_playwright import Axe

    kinds = ["violations", "incomplete"] if undecided else ["violations"]
    response = Axe().run(page, options={"resultTypes": kinds}).response
    return [
        f"{kind} {result['id']} ({result['impact']}): {result['help']} at "
        + "; ".join(" ".join(map(str, node["target"])) for node in result["nodes"])
        for kind in kinds
        for result in response[kind]
        if result["impact"] in AXE_BLOCKING
    ]


#: True when the focused element matches the selector given as the argument.
_FOCUSED = "selector => Boolean(document.activeElement && document.activeElement.matches(selector))"


def tab_to(page: Any, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus; fail when it never does.

    Reaching a control this way proves it is in the page's tab order (not only focusable by a
    script), in the order a keyboard user meets it.
    """
    for _ in range(limit):
        if page.evaluate(_FOCUSED, selector):
            return
        page.keyboard.press("Tab")
    if not page.evaluate(_FOCUSED, selector):
        raise AssertionError(f"{limit} presses of Tab never reached {selector}")
