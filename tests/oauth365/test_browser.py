"""The button in a real browser: popup sign-in, then the card shows the result in place."""

from __future__ import annotations

import re

import pytest

from oauth365.models import M365Connection
from tests.factories import UserCardFactory
from users.models import MailSender

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"


def test_connect_button_popup_authenticates_without_reload(
    chromium_context, live_server, idp, settings
):
    """Clicking the button and accepting in the popup shows the success on the card in place."""
    redirect_uri = f"{live_server.url}/oauth365/callback/"
    idp.redirect_uris.append(redirect_uri)
    idp.authorize_mode = "interactive"
    settings.OAUTH365_REDIRECT_URI = redirect_uri
    card = UserCardFactory(
        code="KIVI",
        email="kivi@contoso.test",
        mail_sender=MailSender.M365_OAUTH,
        mail_server="smtp.office365.com:587",
        smtp_username="kivi@contoso.test",
    )
    page = chromium_context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/personal/user/")
    page.fill("#id_username", "KIVI")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/personal/user/$"))
    page.evaluate("window.__notReloaded = true")

    with page.expect_popup() as popup_info:
        page.locator("form[data-oauth365-start] button").click()
    popup = popup_info.value
    popup.get_by_role("button", name="Accept").click()
    popup.wait_for_event("close")

    status = page.locator("[data-oauth365-status]")
    status.get_by_text("Microsoft 365 has been authenticated").wait_for()
    assert "kivi@contoso.test" in status.inner_text()
    assert page.evaluate("window.__notReloaded") is True
    # The popup reached its opener by postMessage: the Cross-Origin-Opener-Policy kept it.
    assert page.locator("[data-oauth365]").get_attribute("data-oauth365-via") == "message"
    assert M365Connection.objects.get(card=card).account == "kivi@contoso.test"


def test_connect_from_unsaved_choice_saves_card_in_m365_mode(
    chromium_context, live_server, idp, settings
):
    """On a Directo card, choosing Microsoft 365 OAUTH and signing in saves the card so."""
    redirect_uri = f"{live_server.url}/oauth365/callback/"
    idp.redirect_uris.append(redirect_uri)
    idp.authorize_mode = "interactive"
    settings.OAUTH365_REDIRECT_URI = redirect_uri
    card = UserCardFactory(code="KIVI", email="kivi@contoso.test", mail_sender=MailSender.DIRECTO)
    page = chromium_context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/personal/user/")
    page.fill("#id_username", "KIVI")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/personal/user/$"))
    button = page.locator("form[data-oauth365-start] button")
    assert not button.is_visible()

    page.select_option("#id_mail_sender", "m365_oauth")
    with page.expect_popup() as popup_info:
        button.click()
    popup = popup_info.value
    popup.get_by_role("button", name="Accept").click()
    popup.wait_for_event("close")

    page.locator("[data-oauth365-status]").get_by_text(
        "Microsoft 365 has been authenticated"
    ).wait_for()
    page.wait_for_selector("[data-effective-preview][aria-busy]", state="detached")
    card.refresh_from_db()
    assert card.mail_sender == MailSender.M365_OAUTH
    assert M365Connection.objects.get(card=card).account == "kivi@contoso.test"
    page.wait_for_load_state("networkidle")
