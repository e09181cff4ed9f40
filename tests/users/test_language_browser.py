"""The language switcher in a real browser: the page, the card and another device follow it."""

from __future__ import annotations

import re

import pytest

from tests.factories import UserCardFactory
from tests.users.test_browser import log_in
from users.models import UserCard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_language_switcher_switches_page_and_card_and_other_devices_follow(
    chromium_context, live_server
):
    """Clicking "Eesti" turns the page Estonian and saves it; another browser opens in it too."""
    card = UserCardFactory(code="MARI", language="")
    page = chromium_context.new_page()
    log_in(page, live_server, "MARI", "/personal/user/")
    assert page.locator("html").get_attribute("lang") == "en"
    switcher = page.locator("form.language-switcher")
    assert switcher.locator("button").all_inner_texts() == [
        "English",
        "Eesti",
        "Latviešu",
        "Polski",
    ]
    assert switcher.locator("button[value=en]").is_disabled()

    switcher.locator("button[value=et]").click()
    page.wait_for_function("document.documentElement.lang === 'et'")
    assert re.search(r"/personal/user/$", page.url)
    assert switcher.locator("button[value=et]").get_attribute("aria-current") == "true"
    # The card's own field shows the saved choice (names in Estonian, from Django's catalog).
    assert page.locator("#id_language").input_value() == "et"
    assert UserCard.objects.get(pk=card.pk).language == "et"
    page.wait_for_load_state("networkidle")

    other = chromium_context.browser.new_context(locale="pl-PL")
    try:
        other_page = other.new_page()
        log_in(other_page, live_server, "MARI", "/personal/user/")
        assert other_page.locator("html").get_attribute("lang") == "et"
        # Let the page's own requests (scripts, the catalog) end before the server stops.
        other_page.wait_for_load_state("networkidle")
    finally:
        other.close()


def test_language_switcher_on_login_page_without_card(chromium_context, live_server):
    """Before signing in the switcher works by its cookie, over the browser's language."""
    page = chromium_context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.locator("form.language-switcher button[value=pl]").click()
    page.wait_for_function("document.documentElement.lang === 'pl'")
    assert page.url.endswith("/accounts/login/")
    page.wait_for_load_state("networkidle")
