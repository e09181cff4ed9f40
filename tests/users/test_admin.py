"""The admin pages of user cards and the system settings."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.views.debug import SafeExceptionReporterFilter

from oauth365.models import M365Connection, M365Status
from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from users.models import MailSender, SystemSettings, UserCard

pytestmark = pytest.mark.django_db

SECRET = "Plain-Secret-4711"


def change_url(card: UserCard) -> str:
    return reverse("admin:users_usercard_change", args=[card.pk])


def stored_ciphertext(card: UserCard) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT smtp_password FROM users_usercard WHERE id = %s", [card.pk])
        return cursor.fetchone()[0]


def test_usercard_admin_changelist_shows_effective_mode(admin_client):
    """The card list shows each card's effective mode and where it comes from."""
    SmtpCardFactory(code="KIVI")
    system_settings_set(mail_sending_user_code="KIVI")
    UserCardFactory(code="MARI", mail_sender=MailSender.DIRECTO)
    response = admin_client.get(reverse("admin:users_usercard_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "KIVI" in html and "MARI" in html
    assert "SMTP (global:KIVI)" in html


def test_usercard_admin_change_page_never_renders_password(admin_client):
    """Neither the stored password nor its ciphertext appears on the change page."""
    card = SmtpCardFactory(smtp_password=SECRET)
    ciphertext = stored_ciphertext(card)
    response = admin_client.get(change_url(card))
    assert response.status_code == 200
    html = response.content.decode()
    assert SECRET not in html
    assert ciphertext not in html
    assert "A password is stored" in html
    assert 'name="smtp_password"' in html


def test_usercard_admin_invalid_post_never_renders_password(admin_client, card_post_data):
    """A rejected form re-renders without the stored or the typed password."""
    card = SmtpCardFactory(smtp_password=SECRET)
    response = admin_client.post(
        change_url(card),
        card_post_data(card, mail_server="smtp.example.test:2525", smtp_password="Typed-Secret-9"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Port 2525 is not allowed" in html
    assert SECRET not in html
    assert "Typed-Secret-9" not in html


def test_usercard_admin_blank_password_keeps_stored(admin_client, card_post_data):
    """An empty password input keeps the stored password and logs no password change."""
    card = SmtpCardFactory(smtp_password=SECRET)
    response = admin_client.post(change_url(card), card_post_data(card, name="Renamed"))
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.name == "Renamed"
    assert card.smtp_password.reveal() == SECRET
    history = LogEntry.objects.get(object_id=str(card.pk)).get_change_message()
    assert "Name" in history
    assert "Password" not in history


def test_usercard_admin_typed_password_replaces_stored(admin_client, card_post_data):
    """A typed password replaces the stored one."""
    card = SmtpCardFactory(smtp_password=SECRET)
    response = admin_client.post(change_url(card), card_post_data(card, smtp_password="new-one"))
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.smtp_password.reveal() == "new-one"


def test_usercard_admin_clear_removes_password(admin_client, card_post_data):
    """Ticking "clear the stored password" removes it."""
    card = SmtpCardFactory(smtp_password=SECRET, smtp_username="")
    response = admin_client.post(change_url(card), card_post_data(card, clear_smtp_password="on"))
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.smtp_password.reveal() == ""


def test_usercard_admin_clear_with_typed_password_is_refused(admin_client, card_post_data):
    """Typing a password and ticking clear at once is an error, and nothing changes."""
    card = SmtpCardFactory(smtp_password=SECRET)
    response = admin_client.post(
        change_url(card), card_post_data(card, clear_smtp_password="on", smtp_password="x")
    )
    assert response.status_code == 200
    assert "not both" in response.content.decode()
    card.refresh_from_db()
    assert card.smtp_password.reveal() == SECRET


def test_usercard_admin_rejects_bad_port(admin_client, card_post_data):
    """A port other than 25, 465 or 587 is a validation error naming the allowed ports."""
    card = SmtpCardFactory()
    response = admin_client.post(
        change_url(card), card_post_data(card, mail_server="smtp.example.test:2525")
    )
    assert response.status_code == 200
    assert "Port 2525 is not allowed: use 465 (SSL), 587 (StartTLS) or 25" in (
        response.content.decode()
    )
    card.refresh_from_db()
    assert card.mail_server == "smtp.example.test:587"


def test_usercard_admin_refuses_microsoft_365_basic_auth(admin_client, card_post_data):
    """Username and password on a Microsoft 365 host are refused with a pointer to OAUTH."""
    card = SmtpCardFactory()
    response = admin_client.post(
        change_url(card),
        card_post_data(card, mail_server="smtp.office365.com:587", smtp_password="pw"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Microsoft 365 no longer accepts a username and password" in html
    card.refresh_from_db()
    assert card.mail_server == "smtp.example.test:587"


def test_usercard_admin_save_shows_ssl_tls_warning(admin_client, card_post_data):
    """A saved SSL/TLS-versus-port mismatch is shown as a warning naming the fix."""
    card = SmtpCardFactory()
    response = admin_client.post(change_url(card), card_post_data(card, ssl_tls="ssl"), follow=True)
    assert response.status_code == 200
    warnings = [m.message for m in response.context["messages"] if m.level_tag == "warning"]
    assert any("Port 587 usually expects" in w for w in warnings)


def test_usercard_admin_add_creates_account(admin_client, card_post_data):
    """Adding a card creates its account, named by the code, with an unusable password."""
    data = card_post_data(UserCard(code="NEWC", email="newc@example.test"))
    response = admin_client.post(reverse("admin:users_usercard_add"), data)
    assert response.status_code == 302
    card = UserCard.objects.get(code="NEWC")
    assert card.user.username == "NEWC"
    assert not card.user.has_usable_password()


def test_usercard_admin_add_links_existing_account(admin_client, card_post_data):
    """Adding a card links the existing account whose username matches case-insensitively."""
    account = get_user_model().objects.create_user(username="mets", password="pw-123456789")
    data = card_post_data(UserCard(code="METS", email="mets@example.test"))
    response = admin_client.post(reverse("admin:users_usercard_add"), data)
    assert response.status_code == 302
    assert UserCard.objects.get(code="METS").user_id == account.pk


def test_usercard_admin_add_page_hides_user_field(admin_client):
    """The add page asks for the code, not for an account."""
    response = admin_client.get(reverse("admin:users_usercard_add"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="code"' in html
    assert 'name="user"' not in html
    assert 'data-preset="google"' in html


def test_usercard_admin_effective_settings_panel_names_sources(admin_client):
    """The change page shows effective values with their source and never a secret."""
    SmtpCardFactory(
        code="KIVI", mail_server="smtp.zone.eu:465", ssl_tls="ssl", smtp_password=SECRET
    )
    system_settings_set(mail_sending_user_code="KIVI")
    card = UserCardFactory(code="MARI")
    response = admin_client.get(change_url(card))
    html = response.content.decode()
    assert "Effective settings" in html
    assert "smtp.zone.eu" in html
    assert "global:KIVI" in html
    assert "Ready to send" in html
    assert SECRET not in html


def test_usercard_admin_effective_settings_panel_lists_missing(admin_client):
    """An incomplete card says it is not ready and names what is missing."""
    card = SmtpCardFactory(mail_server="", smtp_username="", smtp_password="")
    response = admin_client.get(change_url(card))
    html = response.content.decode()
    assert "Not ready to send" in html
    assert "no mail server after merging" in html


def test_usercard_admin_global_card_has_no_delete(admin_client):
    """The global card's delete page is forbidden and its change page has no delete link."""
    card = SmtpCardFactory(code="KIVI")
    system_settings_set(mail_sending_user_code="KIVI")
    delete_url = reverse("admin:users_usercard_delete", args=[card.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert delete_url not in admin_client.get(change_url(card)).content.decode()
    assert UserCard.objects.filter(pk=card.pk).exists()


def test_usercard_admin_bulk_delete_spares_global_card(admin_client):
    """Bulk deletion including the global card deletes nothing and explains why."""
    card = SmtpCardFactory(code="KIVI")
    other = UserCardFactory(code="MARI")
    system_settings_set(mail_sending_user_code="KIVI")
    response = admin_client.post(
        reverse("admin:users_usercard_changelist"),
        {"action": "delete_selected", "_selected_action": [card.pk, other.pk], "post": "yes"},
    )
    assert response.status_code == 200
    assert "the mail sending user of the system settings" in response.content.decode()
    assert UserCard.objects.filter(pk__in=[card.pk, other.pk]).count() == 2


def test_usercard_admin_bulk_delete_removes_ordinary_cards(admin_client):
    """Bulk deletion of cards other than the global card works."""
    card = UserCardFactory(code="MARI")
    response = admin_client.post(
        reverse("admin:users_usercard_changelist"),
        {"action": "delete_selected", "_selected_action": [card.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not UserCard.objects.filter(pk=card.pk).exists()


def test_usercard_admin_search_matches_username(admin_client):
    """Search finds a card by its SMTP username and leaves others out."""
    SmtpCardFactory(code="KIVI", smtp_username="kivi.login@example.test")
    UserCardFactory(code="MARI")
    response = admin_client.get(reverse("admin:users_usercard_changelist"), {"q": "kivi.login"})
    codes = [card.code for card in response.context["cl"].result_list]
    assert codes == ["KIVI"]


def test_usercard_admin_filter_by_mail_sender(admin_client):
    """The mail sender filter lists only cards in that mode."""
    SmtpCardFactory(code="KIVI")
    UserCardFactory(code="MARI", mail_sender=MailSender.DIRECTO_REPLY_TO)
    response = admin_client.get(
        reverse("admin:users_usercard_changelist"), {"mail_sender__exact": "directo_reply_to"}
    )
    codes = [card.code for card in response.context["cl"].result_list]
    assert codes == ["MARI"]


def test_usercard_admin_changeform_hides_password_in_error_reports(admin_user):
    """An error report of the card form masks smtp_password."""
    request = RequestFactory().post("/", {"code": "", "smtp_password": SECRET})
    request.user = admin_user
    request._dont_enforce_csrf_checks = True
    model_admin = admin.site.get_model_admin(UserCard)
    model_admin.add_view(request)
    cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
    assert cleansed["smtp_password"] != SECRET
    assert cleansed["code"] == ""


def test_systemsettings_admin_changelist_opens_the_singleton(admin_client):
    """The system settings list goes straight to the one row, created on first visit."""
    assert not SystemSettings.objects.exists()
    response = admin_client.get(reverse("admin:users_systemsettings_changelist"))
    assert response.status_code == 302
    assert response.url == reverse("admin:users_systemsettings_change", args=[1])
    assert SystemSettings.objects.count() == 1


def test_systemsettings_admin_has_no_add_or_delete(admin_client):
    """The singleton can be neither added a second time nor deleted."""
    system_settings_set(company_name="Acme")
    assert admin_client.get(reverse("admin:users_systemsettings_add")).status_code == 403
    delete_url = reverse("admin:users_systemsettings_delete", args=[1])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert SystemSettings.objects.count() == 1


def test_systemsettings_admin_shows_platform_values_without_credentials(admin_client, settings):
    """Event mailbox, relay host/port and outbound IPs are shown; relay credentials are not."""
    settings.PLATFORM_RELAY_URL = "submission://relayuser:relay-pass-77@relay.platform.test:587"
    settings.PLATFORM_OUTBOUND_IPS = ["90.190.150.210", "90.190.150.82"]
    system_settings_set(company_name="Acme Trading")
    response = admin_client.get(reverse("admin:users_systemsettings_change", args=[1]))
    html = response.content.decode()
    assert "acme-trading@event.data.directo.ee" in html
    assert "relay.platform.test:587" in html
    assert "90.190.150.210, 90.190.150.82" in html
    assert "relay-pass-77" not in html
    assert "relayuser" not in html


def test_systemsettings_admin_refuses_unknown_card(admin_client):
    """Naming a card that does not exist is a validation error."""
    system_settings_set()
    response = admin_client.post(
        reverse("admin:users_systemsettings_change", args=[1]),
        {"mail_sending_user_code": "NOPE", "company_name": "Acme"},
    )
    assert response.status_code == 200
    assert "No user card has the code" in response.content.decode()
    assert SystemSettings.load().mail_sending_user_code == ""


def test_usercard_admin_shows_m365_status_without_token(admin_client):
    """The card shows the signed-in Microsoft 365 account and state, never the token cache."""
    card = UserCardFactory(code="MARI", mail_sender=MailSender.M365_OAUTH)
    M365Connection.objects.create(
        card=card,
        token_cache='{"RefreshToken": "TOKEN-CACHE-SECRET"}',
        account="mari@contoso.test",
        status=M365Status.REAUTH_NEEDED,
        authenticated_at=timezone.now(),
    )
    html = admin_client.get(change_url(card)).content.decode()
    assert "mari@contoso.test" in html
    assert "Re-authentication needed" in html
    assert "TOKEN-CACHE-SECRET" not in html
