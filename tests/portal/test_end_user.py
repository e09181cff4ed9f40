"""Personal → User for the end user: option explanations, provider guidance, the global card."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from mailer.causes import MailCause
from mailer.exceptions import MailAuthError
from mailer.services import MailTestResult, sender_config_get
from portal.views import mail_test_hint
from tests.factories import SmtpCardFactory, UserCardFactory, server_card, system_settings_set
from users.models import MailSender, UserCard

pytestmark = pytest.mark.django_db

URL = "/personal/user/"


def mode_help(html: str) -> str:
    start = html.index('id="mail-sender-explained"')
    return html[start : html.index("</div>", start)]


def test_mode_explanations_directo_names_the_platform_relay(client):
    """Without a global card, Directo's explanation names the platform relay; all four show."""
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    html = mode_help(client.get(URL).content.decode())
    assert "platform&#x27;s relay (relay.platform.test:25)" in html
    assert "your own mail server" in html
    assert "no password is stored here" in html
    assert "acme@event.data.directo.ee" not in html
    assert html.count('data-mode="') == 4


def test_mode_explanations_directo_names_the_global_card(client):
    """With a global card, Directo's explanation names it and its server (from the resolver)."""
    SmtpCardFactory(code="KIVI", mail_server="smtp.kivi.test:465", ssl_tls="ssl")
    system_settings_set(mail_sending_user_code="KIVI", company_name="Acme")
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    html = mode_help(client.get(URL).content.decode())
    assert "global card KIVI (SMTP, smtp.kivi.test:465)" in html
    assert "relay.platform.test" not in html
    assert "event mailbox address (acme@event.data.directo.ee)" in html


def test_mode_explanations_select_is_described_by_them(client):
    """The Mail sender select points at the explanations (aria-describedby)."""
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    html = client.get(URL).content.decode()
    assert 'aria-describedby="mail-sender-explained"' in html


def test_mode_explanations_admin_card_page_shows_them(client):
    """The admin card page explains the options next to Mail sender too."""
    admin = get_user_model().objects.create_superuser("ADMIN", "admin@example.test", "pw-4711-x")
    card = UserCardFactory(code="MARI", mail_sender=MailSender.SMTP)
    client.force_login(admin)
    html = client.get(f"/admin/users/usercard/{card.pk}/change/").content.decode()
    assert 'id="mail-sender-explained"' in html
    assert "platform&#x27;s relay" in html


def test_mode_explanations_are_estonian(client):
    """The explanations are in the card's language (Estonian)."""
    card = UserCardFactory(code="MARI", language="et")
    client.force_login(card.user)
    html = mode_help(client.get(URL).content.decode())
    assert "oma meiliserveri" in html
    assert "your own mail server" not in html


def test_provider_guide_shows_steps_ips_and_responsibility(client, settings):
    """SMTP cards get the providers' steps and links, the outbound IP list and the seed's note."""
    settings.PLATFORM_OUTBOUND_IPS = ["90.190.150.210", "90.190.150.82"]
    card = SmtpCardFactory(code="MARI")
    client.force_login(card.user)
    html = client.get(URL).content.decode()
    guide = html[html.index('class="server-fields provider-guide"') :]
    guide = guide[: guide.index("</section>")]
    assert "<strong>90.190.150.210, 90.190.150.82</strong>" in guide
    assert "https://myaccount.google.com/apppasswords" in guide
    assert "16-character code" in guide
    assert "Gmail keeps a copy of each e-mail in its Sent folder" in guide
    assert "Users → Active users → your user → Mail → Manage email apps" in guide
    assert "https://admin.microsoft.com" in guide
    assert "smtp.zone.ee:465 or smtp.zone.eu:465" in guide
    assert "two-factor authentication" in guide
    assert "Telia (mail.ee), Microlink/Telia (Exchange Mlx plus) and Zone" in guide
    assert "the user's responsibility" in guide
    assert guide.count("<details") == 3


def test_provider_guide_is_estonian(client):
    """The guidance reads in Estonian for an Estonian card."""
    card = SmtpCardFactory(code="MARI", language="et")
    client.force_login(card.user)
    html = client.get(URL).content.decode()
    assert "Oma meiliserveri seadistamine" in html
    assert "rakenduse parool" in html
    assert "Setting up your own mail server" not in html


def test_gmail_password_warning_when_not_16_characters(client):
    """Saving a Gmail card with a password that is not 16 characters warns (and still saves)."""
    card = SmtpCardFactory(code="MARI", mail_server="smtp.gmail.com:465", ssl_tls="ssl")
    client.force_login(card.user)
    data = {
        "email": card.email,
        "mail_sender": "smtp",
        "mail_server": "smtp.gmail.com:465",
        "ssl_tls": "ssl",
        "smtp_username": card.email,
        "smtp_password": "my-google-password",
        "mail_as_attachment": "pdf",
    }
    html = client.post(URL, data, follow=True).content.decode()
    assert "Gmail accepts only a 16-character app password" in html
    data["smtp_password"] = "abcd efgh ijkl mnop"
    html = client.post(URL, data, follow=True).content.decode()
    assert "Gmail accepts only a 16-character app password" not in html


def test_mail_test_refused_connection_repeats_ip_allow_list(client, closed_port, smtp_settings):
    """A refused connection in the test e-mail adds the platform's IPs to allow-list."""
    smtp_settings.PLATFORM_OUTBOUND_IPS = ["90.190.150.210", "90.190.150.82"]
    card = server_card(closed_port, code="MARI")
    client.force_login(card.user)
    response = client.post("/personal/user/test-mail/", {"test_mail-to": "x@example.test"})
    html = response.content.decode()
    assert "refused the connection" in html
    hint = html[html.index("data-test-mail-hint") :]
    assert "90.190.150.210, 90.190.150.82" in hint[: hint.index("</p>")]


def test_mail_test_timed_out_connection_repeats_ip_allow_list(client, silent_server, smtp_settings):
    """A server that never answers (timed out) in the test e-mail adds the IPs to allow-list."""
    smtp_settings.PLATFORM_OUTBOUND_IPS = ["90.190.150.210", "90.190.150.82"]
    smtp_settings.MAILER_TIMEOUT = 0.5
    card = server_card(silent_server, code="MARI", smtp_username="", smtp_password="")
    client.force_login(card.user)
    response = client.post("/personal/user/test-mail/", {"test_mail-to": "x@example.test"})
    html = response.content.decode()
    assert "did not answer on port 25 in time" in html
    hint = html[html.index("data-test-mail-hint") :]
    assert "90.190.150.210, 90.190.150.82" in hint[: hint.index("</p>")]


def test_mail_test_hint_gmail_auth_rejected_names_app_password():
    """Gmail refusing the password repeats the app-password steps; other servers do not."""
    card = SmtpCardFactory(code="MARI", mail_server="smtp.gmail.com:465", ssl_tls="ssl")
    config = sender_config_get(card=card)
    error = MailAuthError(MailCause.AUTH_REJECTED, host="smtp.gmail.com", port=465)
    result = MailTestResult(ok=False, dry_run=False, error=error, config=config)
    assert "create an app password" in mail_test_hint(result)
    other = sender_config_get(card=SmtpCardFactory(code="JAAN"))
    result = MailTestResult(ok=False, dry_run=False, error=error, config=other)
    assert mail_test_hint(result) == ""


def global_setup() -> None:
    """KIVI is the global card; MARI and JAAN inherit from it, OWN has all of its own."""
    SmtpCardFactory(code="KIVI", mail_server="smtp.kivi.test:587")
    system_settings_set(mail_sending_user_code="KIVI", company_name="Acme")
    UserCardFactory(code="MARI")
    SmtpCardFactory(code="JAAN", mail_server="", smtp_username="", smtp_password="")
    SmtpCardFactory(code="OWN", mail_server="smtp.own.test:465", ssl_tls="ssl")


def test_global_card_personal_page_shows_inheriting_count(client):
    """The global card's own Personal → User page says it is everyone's base, and for how many."""
    global_setup()
    client.force_login(UserCard.objects.get(code="KIVI").user)
    html = client.get(URL).content.decode()
    assert "Card KIVI is the global card" in html
    assert 'data-inheriting-count="2"' in html
    assert "2 other cards inherit settings from it." in html


def test_global_card_admin_page_shows_inheriting_count(client):
    """The admin page of the global card shows the same notice; another card's page does not."""
    global_setup()
    admin = get_user_model().objects.create_superuser("ADMIN", "admin@example.test", "pw-4711-x")
    client.force_login(admin)
    kivi = UserCard.objects.get(code="KIVI")
    html = client.get(f"/admin/users/usercard/{kivi.pk}/change/").content.decode()
    assert 'data-inheriting-count="2"' in html
    mari = UserCard.objects.get(code="MARI")
    html = client.get(f"/admin/users/usercard/{mari.pk}/change/").content.decode()
    assert "data-inheriting-count" not in html


def test_global_card_notice_is_estonian(client):
    """The global card notice reads in Estonian, plural included."""
    global_setup()
    kivi = UserCard.objects.get(code="KIVI")
    kivi.language = "et"
    kivi.save()
    client.force_login(kivi.user)
    html = client.get(URL).content.decode()
    assert "Kaart KIVI on globaalne kaart" in html
    assert "2 muud kaarti pärivad sellelt seadistusi." in html


def card_post(card: UserCard, **values: str) -> dict[str, str]:
    return {
        "email": card.email,
        "mail_sender": card.mail_sender,
        "mail_as_attachment": "pdf",
        **values,
    }


def test_yes_no_selects_render_as_selects(client):
    """Attachments with email and Mail edit are Yes/No selects with the stored value chosen."""
    card = UserCardFactory(code="MARI", attachments_with_email=True, mail_edit=False)
    client.force_login(card.user)
    html = client.get(URL).content.decode()
    for name, chosen in (("attachments_with_email", "1"), ("mail_edit", "0")):
        start = html.index(f'<select name="{name}"')
        select = html[start : html.index("</select>", start)]
        assert f'<option value="{chosen}" selected>' in select
        assert ">Yes</option>" in select and ">No</option>" in select
    assert 'type="checkbox" name="mail_edit"' not in html
    assert "No: the e-mail goes out as it is." in html


def test_yes_no_selects_save_the_booleans(client):
    """Choosing Yes/No saves True/False on the model; the old checkbox value "on" still counts."""
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    client.post(URL, card_post(card, attachments_with_email="1", mail_edit="0"))
    card.refresh_from_db()
    assert (card.attachments_with_email, card.mail_edit) == (True, False)
    client.post(URL, card_post(card, attachments_with_email="0", mail_edit="on"))
    card.refresh_from_db()
    assert (card.attachments_with_email, card.mail_edit) == (False, True)


def test_yes_no_selects_are_estonian(client):
    """The Yes/No choices read Jah/Ei on an Estonian card."""
    card = UserCardFactory(code="MARI", language="et", mail_edit=True)
    client.force_login(card.user)
    html = client.get(URL).content.decode()
    start = html.index('<select name="mail_edit"')
    select = html[start : html.index("</select>", start)]
    assert '<option value="1" selected>Jah</option>' in select
    assert ">Ei</option>" in select


def test_header_user_name_links_to_personal_user(client):
    """The signed-in user's name in the header opens Personal → User; log out is its own button."""
    card = UserCardFactory(code="MARI")
    client.force_login(card.user)
    html = client.get("/deliverability/events/").content.decode()
    header = html[html.index('<header class="site-header">') : html.index("</header>")]
    account = header[header.index('class="site-account"') :]
    assert '<a href="/personal/user/" class="site-user" title="Personal → User">MARI</a>' in account
    assert 'action="/accounts/logout/"' in account
    assert "<nav" not in account
