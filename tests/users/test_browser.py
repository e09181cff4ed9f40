"""The card form in a real browser: live server-field visibility and provider presets."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from tests.factories import UserCardFactory
from users.models import MailSender, UserCard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"


def log_in(page, live_server, username: str, next_path: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path) + r"$"))


def test_admin_card_form_shows_server_fields_live_and_fills_gmail_preset(
    chromium_page, live_server
):
    """In the admin, server fields appear when SMTP is chosen and the Gmail preset fills them."""
    get_user_model().objects.create_superuser("ADMIN", "admin@example.test", PASSWORD)
    card = UserCardFactory(code="MARI", mail_sender=MailSender.DIRECTO)
    page = chromium_page
    change_path = f"/admin/users/usercard/{card.pk}/change/"
    log_in(page, live_server, "ADMIN", change_path)

    server_input = page.locator("#id_mail_server")
    assert not server_input.is_visible()
    page.select_option("#id_mail_sender", "smtp")
    assert server_input.is_visible()
    assert page.locator("#id_smtp_password").is_visible()

    page.click("button[data-preset=google]")
    assert server_input.input_value() == "smtp.gmail.com:465"
    assert page.locator("#id_ssl_tls").input_value() == "ssl"
    assert "app password" in page.locator("[data-preset-hint]").inner_text()

    page.fill("#id_smtp_username", "mari@gmail.example")
    page.fill("#id_smtp_password", "abcd efgh ijkl mnop")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(re.escape(change_path) + r"$"))
    assert "was changed successfully" in page.locator("ul.messagelist").inner_text()
    assert page.locator("#id_mail_server").input_value() == "smtp.gmail.com:465"
    assert page.locator("#id_smtp_password").input_value() == ""
    assert "smtp.gmail.com" in page.locator("[data-effective-settings]").inner_text()

    card.refresh_from_db()
    assert (card.mail_sender, card.mail_server, card.ssl_tls) == (
        "smtp",
        "smtp.gmail.com:465",
        "ssl",
    )
    assert card.smtp_password.reveal() == "abcdefghijklmnop"


def test_personal_card_form_hides_server_fields_and_applies_preset(chromium_page, live_server):
    """On Personal → User, switching back to Directo hides the rows without wiping them."""
    card = UserCardFactory(
        code="MARI",
        mail_sender=MailSender.SMTP,
        mail_server="smtp.example.test:587",
        ssl_tls="starttls",
    )
    page = chromium_page
    log_in(page, live_server, "MARI", "/personal/user/")

    server_input = page.locator("#id_mail_server")
    assert server_input.is_visible()
    page.select_option("#id_mail_sender", "directo")
    assert not server_input.is_visible()
    page.select_option("#id_mail_sender", "smtp")
    assert server_input.input_value() == "smtp.example.test:587"

    page.fill("#id_mail_server", "smtp.example.test:465")
    assert "“SSL”" in page.locator("#ssl-tls-hint").inner_text()
    page.click("#ssl-tls-hint button")
    assert page.locator("#id_ssl_tls").input_value() == "ssl"

    page.click("button[data-preset=zone]")
    page.select_option("#id_mail_sender", "directo")
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_url(re.compile(r"/personal/user/$"))
    assert "Your mail settings have been saved." in page.locator("ul.messages").inner_text()
    assert not page.locator("#id_mail_server").is_visible()

    card = UserCard.objects.get(pk=card.pk)
    assert card.mail_sender == "directo"
    # Hidden rows are still posted: the preset values were saved with the card.
    assert (card.mail_server, card.ssl_tls) == ("smtp.zone.eu:465", "ssl")
