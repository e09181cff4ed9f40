"""Personal → User for the end user in a real browser (Chromium): explanations, keyboard use."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import tab_to
from tests.factories import (
    SERVER_CARD_PASSWORD,
    InvoiceFactory,
    SmtpCardFactory,
    UserCardFactory,
    server_card,
    system_settings_set,
)
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


#: The visible controls without a name (no label, aria-label(ledby) or text).
UNLABELLED_CONTROLS = """() => [...document.querySelectorAll(
    "input, select, textarea, button, summary, a[href]")]
  .filter(node => node.type !== "hidden" && node.offsetParent !== null)
  .filter(node => {
    if (node.labels && node.labels.length) return false;
    if (node.getAttribute("aria-label") || node.getAttribute("aria-labelledby")) return false;
    return !(node.textContent || "").trim();
  })
  .map(node => node.outerHTML.slice(0, 120))"""


def test_card_page_controls_are_labelled_and_status_regions_live(chromium_page, live_server):
    """Every visible control has a name, and the test-mail and Microsoft 365 results are live."""
    UserCardFactory(code="MARI", mail_sender="smtp", mail_server="smtp.gmail.com:587")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    page.wait_for_selector("#ssl-tls-hint")
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.get_attribute("[data-test-mail-result]", "aria-live") == "polite"
    assert page.get_attribute("[data-mode-help]", "aria-live") == "polite"
    assert page.get_attribute("#ssl-tls-hint", "aria-live") == "polite"
    page.select_option("#id_mail_sender", "m365_oauth")
    page.click("button[type=submit].button-primary")
    page.wait_for_selector("[data-oauth365-result]", state="attached")
    assert page.get_attribute("[data-oauth365-result]", "aria-live") == "polite"


def test_card_page_is_keyboard_usable(chromium_page, live_server):
    """Mail sender, the provider guidance and the header's user name work from the keyboard."""
    UserCardFactory(code="MARI")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    tab_to(page, "#id_mail_sender")
    page.keyboard.press("ArrowDown")
    assert page.input_value("#id_mail_sender") == "smtp"
    assert visible_modes(page) == ["smtp"]
    tab_to(page, "details[data-provider=google] summary")
    page.keyboard.press("Enter")
    assert page.locator("details[data-provider=google]").get_attribute("open") is not None
    assert page.get_by_text("16-character code").is_visible()
    page.goto(f"{live_server.url}/deliverability/events/")
    page.focus("header .site-user")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}{URL}")


def test_card_page_smtp_set_up_and_saved_with_the_keyboard_only(chromium_page, live_server):
    """Tab, arrow keys, typing and Space alone choose SMTP, fill the server and save the card."""
    card = UserCardFactory(code="MARI")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    tab_to(page, "#id_mail_sender")
    page.keyboard.press("ArrowDown")
    tab_to(page, "#id_mail_server")
    page.keyboard.type("smtp.zone.eu:465")
    tab_to(page, "#id_ssl_tls")
    for _ in range(4):
        if page.input_value("#id_ssl_tls") == "ssl":
            break
        page.keyboard.press("ArrowDown")
    assert page.input_value("#id_ssl_tls") == "ssl"
    tab_to(page, "#id_smtp_username")
    page.keyboard.type("mari@acme.test")
    tab_to(page, "#id_smtp_password")
    page.keyboard.type("typed-secret-1")
    tab_to(page, "button[type=submit].button-primary")
    with page.expect_navigation():
        page.keyboard.press("Space")
    assert "have been saved" in page.locator(".messages").inner_text()
    card.refresh_from_db()
    assert (card.mail_sender, card.mail_server, card.ssl_tls) == ("smtp", "smtp.zone.eu:465", "ssl")
    assert (
        card.smtp_username == "mari@acme.test" and card.smtp_password.reveal() == "typed-secret-1"
    )


def test_mode_explanations_switch_in_estonian(chromium_page, live_server):
    """On an Estonian card the shown explanation and the guidance read in Estonian."""
    UserCardFactory(code="MARI", language="et")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    page.select_option("#id_mail_sender", "smtp")
    assert "oma meiliserveri" in page.locator("[data-mode=smtp]").inner_text()
    assert page.locator("#provider-guide-title").inner_text() == "Oma meiliserveri seadistamine"


def test_m365_choice_shows_authenticate_button_at_once(chromium_page, live_server):
    """Choosing Microsoft 365 OAUTH on a Directo card shows the button and hides the password."""
    UserCardFactory(code="MARI")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    button = page.locator("[data-m365-connect] form[data-oauth365-start] button[type=submit]")
    assert button.count() == 1
    assert not button.is_visible()
    assert page.locator("[data-m365-summary]").is_visible()
    page.select_option("#id_mail_sender", "m365_oauth")
    assert button.is_visible()
    assert button.inner_text().strip() == "Authenticate Microsoft 365"
    assert not page.locator("#id_smtp_password").is_visible()
    assert page.locator("#id_smtp_username").is_visible()
    assert not page.locator("[data-m365-summary]").is_visible()
    page.select_option("#id_mail_sender", "smtp")
    assert not button.is_visible()
    assert page.locator("#id_smtp_password").is_visible()


def test_effective_settings_preview_follows_unsaved_fields(chromium_page, live_server):
    """Changing fields replaces the effective-settings panel with the unsaved values' preview."""
    card = UserCardFactory(code="MARI")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    area = page.locator("[data-effective-preview]")
    assert area.get_attribute("aria-live") == "polite"
    page.select_option("#id_mail_sender", "smtp")
    page.fill("#id_mail_server", "smtp.zone.eu:465")
    page.fill("#id_smtp_password", "typed-secret-1")
    area.get_by_text("Preview of the values on this page").wait_for()
    area.get_by_text("smtp.zone.eu").wait_for()
    page.wait_for_selector("[data-effective-preview][aria-busy]", state="detached")
    assert "typed-secret-1" not in area.inner_html()
    card.refresh_from_db()
    assert card.mail_server == ""


#: Gmail's answer to a password that is not an app password (a real reply, verbatim).
GMAIL_BAD_CREDENTIALS = (
    "535 5.7.8 Username and Password not accepted. For more information, go to "
    "https://support.google.com/mail/?p=BadCredentials - gsmtp"
)


def _test_mail_send(page) -> Any:
    """Send a test e-mail from the card page; return the result region once it has an answer."""
    page.fill("#id_test_mail-to", "customer@example.test")
    page.click("[data-test-mail-submit]")
    result = page.locator("[data-test-mail-result]")
    result.locator(".test-mail-message").wait_for()
    assert result.get_attribute("aria-live") == "polite"
    assert page.url.endswith(URL)
    return result


def test_test_mail_gmail_auth_refused_shows_app_password_fix(
    chromium_page, live_server, smtp_server
):
    """A server refusing AUTH with Gmail's reply: the result in place names the app password."""
    server = smtp_server(tls="starttls", users={"mari@acme.test": "other"}, by_address=True)
    server.sink.auth_reply = GMAIL_BAD_CREDENTIALS
    card = server_card(server, code="MARI")
    assert not card.user.is_staff
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    result = _test_mail_send(page)
    message = result.locator(".test-mail-message").inner_text()
    assert "Gmail accepts only an app password" in message
    assert "16 characters" in message
    assert server.sink.auth_attempts and server.sink.deliveries == []
    assert SERVER_CARD_PASSWORD not in page.content()


def test_test_mail_refused_connection_shows_outbound_ips(
    chromium_page, live_server, closed_port, smtp_settings
):
    """A refused connection: the result in place repeats the platform's IPs to allow-list."""
    smtp_settings.PLATFORM_OUTBOUND_IPS = ["90.190.150.210", "90.190.150.82"]
    server_card(closed_port, code="MARI")
    page = chromium_page
    log_in(page, live_server, "MARI", URL)
    result = _test_mail_send(page)
    assert "refused the connection" in result.locator(".test-mail-message").inner_text()
    hint = result.locator("[data-test-mail-hint]").inner_text()
    assert "allows connections only from listed IP addresses" in hint
    assert "90.190.150.210, 90.190.150.82" in hint


def test_navigation_reaches_own_pages_and_log_out_is_separate(chromium_page, live_server):
    """A non-staff user reaches invoices, letters and jobs from the menu, the card by name."""
    card = UserCardFactory(code="MARI")
    assert not card.user.is_staff
    page = chromium_page
    log_in(page, live_server, "MARI", "/deliverability/events/")
    menu = page.get_by_role("navigation", name="Main menu")
    expect(menu.get_by_role("link", name="Administration")).to_have_count(0)
    for link, path, heading in (
        ("My invoices", "/personal/invoices/", "My invoices"),
        ("My letters", "/personal/letters/", "My letters"),
        ("My jobs", "/mail/jobs/", "Mass-mail jobs"),
    ):
        menu.get_by_role("link", name=link).click()
        page.wait_for_url(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    page.locator("header .site-user").click()
    page.wait_for_url(f"{live_server.url}{URL}")
    page.get_by_role("button", name="Log out (MARI)").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.goto(f"{live_server.url}/personal/invoices/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))


def test_mail_edit_select_switches_invoice_send_between_at_once_and_draft(
    chromium_page, live_server, smtp_server
):
    """Mail edit No sends an invoice at once; after choosing Yes and saving, a draft opens first."""
    server = smtp_server(users={"mari@acme.test": SERVER_CARD_PASSWORD}, by_address=True)
    card = server_card(server, code="MARI", mail_edit=False, mail_as_attachment="no")
    invoice = InvoiceFactory(owner=card, number="Y-1", customer_email="buyer@example.test")
    page = chromium_page
    log_in(page, live_server, "MARI", "/personal/invoices/")
    expect(page.get_by_role("link", name="Send invoice Y-1…")).to_have_count(0)
    page.get_by_role("button", name="Send invoice Y-1").click()
    expect(page.locator(".messages")).to_contain_text("was sent to buyer@example.test")
    assert [d.rcpt_tos for d in server.sink.deliveries] == [("buyer@example.test",)]

    page.goto(f"{live_server.url}{URL}")
    assert page.locator("#id_mail_edit option:checked").inner_text() == "No"
    page.select_option("#id_mail_edit", label="Yes")
    page.click("button[type=submit].button-primary")
    expect(page.locator(".messages")).to_contain_text("Your mail settings have been saved.")
    card.refresh_from_db()
    assert card.mail_edit is True
    page.get_by_role("link", name="My invoices").click()
    page.get_by_role("link", name="Send invoice Y-1…").click()
    page.wait_for_url(re.compile(rf"/personal/invoices/{invoice.pk}/draft/$"))
    assert page.get_by_label("Subject").input_value() == "Invoice {number} from {company}"
    assert len(server.sink.deliveries) == 1  # the draft sends nothing by itself


def test_global_card_note_shows_on_its_own_page(chromium_page, live_server):
    """The global card's user sees on Personal → User that other cards inherit from it."""
    SmtpCardFactory(code="KIVI", mail_server="smtp.kivi.test:587")
    system_settings_set(mail_sending_user_code="KIVI", company_name="Acme")
    UserCardFactory(code="MARI")
    page = chromium_page
    log_in(page, live_server, "KIVI", URL)
    note = page.locator("[data-global-card]")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Card KIVI is the global card")
    expect(note.locator("[data-inheriting-count]")).to_have_text(
        "1 other card inherits settings from it."
    )
