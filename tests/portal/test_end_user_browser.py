"""Personal → User for the end user in a real browser (Chromium): explanations, keyboard use."""

from __future__ import annotations

import pytest

from tests.factories import UserCardFactory
from tests.users.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

URL = "/personal/user/"


def visible_modes(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-mode-help] [data-mode]",
        "nodes => nodes.filter(node => !node.hidden && node.offsetParent !== null)"
        ".map(node => node.dataset.mode)",
    )


def test_mode_explanations_switch_with_the_choice(chromium_page, live_server):
    """Only the chosen option's explanation shows, and it follows the select."""
    UserCardFactory(code="MARI")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    assert visible_modes(page) == ["directo"]
    page.select_option("#id_mail_sender", "directo_reply_to")
    assert visible_modes(page) == ["directo_reply_to"]
    assert "SPF" in page.locator("[data-mode=directo_reply_to]").inner_text()
    page.select_option("#id_mail_sender", "smtp")
    assert visible_modes(page) == ["smtp"]


def test_provider_guide_shows_only_for_server_modes(chromium_page, live_server):
    """The provider guidance appears with SMTP and Microsoft 365 OAUTH, not with Directo."""
    UserCardFactory(code="MARI")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    guide = page.locator(".provider-guide")
    assert not guide.is_visible()
    page.select_option("#id_mail_sender", "smtp")
    assert guide.is_visible()
    assert page.locator("[data-outbound-ips] strong").inner_text().count(".") >= 3
    page.select_option("#id_mail_sender", "m365_oauth")
    assert guide.is_visible()
    page.locator("details[data-provider=microsoft365] summary").click()
    assert page.get_by_text("Manage email apps").is_visible()
