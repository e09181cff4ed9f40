"""'Send test e-mail' on Personal → User and in the admin, against real local SMTP servers."""

from __future__ import annotations

import base64
import html as html_lib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from events.models import MailEvent
from portal.views import FRAGMENT_HEADER
from tests.factories import SERVER_CARD_PASSWORD as PASSWORD
from tests.factories import UserCardFactory, server_card
from users.models import UserCard

pytestmark = pytest.mark.django_db

BROWSER_PASSWORD = "correct-horse-battery-staple"
PERSONAL_URL = "/personal/user/test-mail/"


def test_data(to: str = "customer@example.test", *, dry_run: bool = False, **extra) -> dict:
    """The POST data of the test e-mail form (its fields carry the "test_mail" prefix)."""
    data = {"test_mail-to": to, **extra}
    if dry_run:
        data["test_mail-dry_run"] = "on"
    return data


test_data.__test__ = False  # a helper, not a test


def admin_test_url(card: UserCard) -> str:
    return reverse("admin:users_usercard_test_mail", args=[card.pk])


def page_text(response) -> str:
    return html_lib.unescape(response.content.decode())


def test_personal_test_mail_url_has_no_card_id():
    """The personal test e-mail URL names no card: it always uses the signed-in user's."""
    assert reverse("personal:test_mail") == PERSONAL_URL


def test_personal_card_shows_test_mail_form(client):
    """The card page offers the form: recipient defaulting to the card's address, dry run."""
    card = UserCardFactory(code="MARI", email="mari@acme.test")
    client.force_login(card.user)
    html = page_text(client.get("/personal/user/"))
    assert f'action="{PERSONAL_URL}"' in html
    assert 'name="test_mail-to" value="mari@acme.test"' in html
    assert 'name="test_mail-dry_run"' in html
    assert "Dry run (stop before sending)" in html
    assert "save the card first" in html
    panel = html.split("data-test-mail>", 1)[1]
    assert 'type="password"' not in panel  # no secret is ever typed into the test form


def test_personal_test_mail_delivers_and_shows_transcript(client, smtp_server):
    """A test e-mail reaches the server and the page shows each step and the success line."""
    server = smtp_server(tls="starttls", users={"mari@acme.test": PASSWORD}, by_address=True)
    card = server_card(server, code="MARI")
    client.force_login(card.user)
    response = client.post(PERSONAL_URL, test_data())
    assert response.status_code == 200
    [delivery] = server.sink.deliveries
    assert delivery.rcpt_tos == ("customer@example.test",)
    assert delivery.mail_from == "mari@acme.test"
    assert delivery.login == "mari@acme.test"
    html = page_text(response)
    for step in ("CONNECT", "EHLO", "TLS", "AUTH", "DATA"):
        assert f'<th scope="row">{step}</th>' in html
    assert "✗" not in html
    assert "<td>250</td>" in html
    assert "The server accepted the test e-mail for customer@example.test." in html
    assert PASSWORD not in html


def test_personal_test_mail_dry_run_stops_before_sending(client, smtp_server):
    """A dry run ends with RSET: the server saw the addresses and delivered nothing."""
    server = smtp_server(tls="starttls", users={"mari@acme.test": PASSWORD}, by_address=True)
    card = server_card(server, code="MARI")
    client.force_login(card.user)
    response = client.post(PERSONAL_URL, test_data(dry_run=True))
    assert response.status_code == 200
    assert server.sink.deliveries == []
    verbs = server.sink.verbs()
    assert verbs.index("MAIL") < verbs.index("RCPT") < verbs.index("RSET")
    assert "DATA" not in verbs
    html = page_text(response)
    assert '<th scope="row">RSET</th>' in html
    assert "accepted the dry run" in html and "was not sent" in html


def test_personal_test_mail_auth_failure_is_explained_without_password(client, smtp_server):
    """A rejected password shows the explained cause, records an event, never the password."""
    server = smtp_server(tls="starttls", users={"mari@acme.test": "another"}, by_address=True)
    card = server_card(server, code="MARI")
    client.force_login(card.user)
    response = client.post(PERSONAL_URL, test_data())
    assert response.status_code == 200
    html = page_text(response)
    assert "rejected the username or password" in html
    assert "✗" in html
    assert PASSWORD not in html
    plain = base64.b64encode(f"\0mari@acme.test\0{PASSWORD}".encode()).decode()
    assert plain not in html
    assert base64.b64encode(PASSWORD.encode()).decode() not in html
    [event] = MailEvent.objects.filter(user_code="MARI")
    assert event.cause == "auth_rejected"
    assert event.recipient == "customer@example.test"
    assert server.sink.deliveries == []


def test_personal_test_mail_refuses_internal_host(client, smtp_server, settings):
    """Without MAILER_ALLOW_PRIVATE_HOSTS a loopback server is refused and never contacted."""
    server = smtp_server(tls="no", by_address=True)
    card = server_card(server, code="MARI", smtp_username="", smtp_password="")
    settings.MAILER_ALLOW_PRIVATE_HOSTS = False
    client.force_login(card.user)
    response = client.post(PERSONAL_URL, test_data())
    assert response.status_code == 200
    assert "an internal address" in page_text(response)
    assert server.sink.connections == 0
    assert MailEvent.objects.get(user_code="MARI").cause == "host_not_allowed"


def test_personal_test_mail_ignores_posted_card(client, smtp_server):
    """A card id or code in the POST is ignored: only the signed-in user's card is tested."""
    own_server = smtp_server(tls="no", by_address=True)
    other_server = smtp_server(tls="no", by_address=True)
    card = server_card(own_server, code="MARI", smtp_username="", smtp_password="")
    other = server_card(other_server, code="KIVI", smtp_username="", smtp_password="")
    client.force_login(card.user)
    response = client.post(
        f"{PERSONAL_URL}?card={other.pk}", test_data(card=other.pk, code="KIVI", id=other.pk)
    )
    assert response.status_code == 200
    assert len(own_server.sink.deliveries) == 1
    assert other_server.sink.connections == 0


def test_personal_test_mail_redirects_anonymous_to_login(client, smtp_server):
    """An anonymous POST goes to the login page and connects nowhere."""
    server = smtp_server(tls="no", by_address=True)
    server_card(server, code="MARI", smtp_username="", smtp_password="")
    response = client.post(PERSONAL_URL, test_data())
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert server.sink.connections == 0


@pytest.mark.parametrize(
    ("to", "explained"),
    [
        ("customer@example.test\r\nBcc: victim@example.test", "no line breaks"),
        ("customer@example.test\n", "no line breaks"),
        ("customer@example.test\r", "no line breaks"),
        ("customer@example.test\x00", "Null characters are not allowed"),
        ("not-an-address", "Enter a valid email address"),
    ],
)
def test_personal_test_mail_refuses_bad_recipient(client, smtp_server, to, explained):
    """A recipient with CR/LF, NUL or not an address is refused with a message; nothing connects."""
    server = smtp_server(tls="no", by_address=True)
    card = server_card(server, code="MARI", smtp_username="", smtp_password="")
    client.force_login(card.user)
    response = client.post(PERSONAL_URL, test_data(to))
    assert response.status_code == 400
    assert explained in page_text(response)
    assert server.sink.connections == 0
    assert not MailEvent.objects.exists()


def test_personal_test_mail_rate_limit_shows_message(client, smtp_server):
    """The sixth test in a minute shows the service's message and connects nowhere."""
    server = smtp_server(tls="no", by_address=True)
    card = server_card(server, code="MARI", smtp_username="", smtp_password="")
    client.force_login(card.user)
    for _ in range(5):
        assert client.post(PERSONAL_URL, test_data(dry_run=True)).status_code == 200
    connections = server.sink.connections
    response = client.post(PERSONAL_URL, test_data())
    assert response.status_code == 429
    assert "At most 5 test e-mails a minute" in page_text(response)
    assert server.sink.connections == connections
    assert server.sink.deliveries == []


def test_personal_test_mail_fragment_is_the_panel_alone(client, smtp_server):
    """With the fragment header the answer is the panel (for test_mail.js), not a full page."""
    server = smtp_server(tls="no", by_address=True)
    card = server_card(server, code="MARI", smtp_username="", smtp_password="")
    client.force_login(card.user)
    response = client.post(PERSONAL_URL, test_data(dry_run=True), headers={FRAGMENT_HEADER: "1"})
    assert response.status_code == 200
    html = page_text(response)
    assert html.lstrip().startswith("<section")
    assert "<html" not in html
    assert "accepted the dry run" in html
    assert FRAGMENT_HEADER in response["Vary"]


def test_personal_test_mail_page_without_javascript(client):
    """A GET shows the form on a page of its own, with the way back to the card."""
    card = UserCardFactory(code="MARI", email="mari@acme.test")
    client.force_login(card.user)
    response = client.get(PERSONAL_URL)
    assert response.status_code == 200
    html = page_text(response)
    assert 'value="mari@acme.test"' in html
    assert 'href="/personal/user/"' in html


def test_admin_test_mail_refuses_non_staff(client, smtp_server):
    """A non-staff user cannot reach another card's test through the admin URL."""
    server = smtp_server(tls="no", by_address=True)
    other = server_card(server, code="KIVI", smtp_username="", smtp_password="")
    own = UserCardFactory(code="MARI")
    client.force_login(own.user)
    for response in (
        client.get(admin_test_url(other)),
        client.post(admin_test_url(other), test_data()),
    ):
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    assert server.sink.connections == 0


def test_admin_test_mail_forbids_staff_without_change_permission(client, smtp_server):
    """Staff who may only view cards get 403 and no link; nothing connects."""
    server = smtp_server(tls="no", by_address=True)
    card = server_card(server, code="KIVI", smtp_username="", smtp_password="")
    viewer = get_user_model().objects.create_user("VIEWER", password="pw-1234567890", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_usercard"))
    client.force_login(viewer)
    change_page = client.get(reverse("admin:users_usercard_change", args=[card.pk]))
    assert change_page.status_code == 200
    assert admin_test_url(card) not in change_page.content.decode()
    assert client.post(admin_test_url(card), test_data()).status_code == 403
    assert server.sink.connections == 0


def test_admin_test_mail_works_on_any_card_for_superuser(admin_client, smtp_server):
    """A superuser tests another user's card: the message arrives, the page shows the steps."""
    server = smtp_server(tls="ssl", users={"kivi@acme.test": PASSWORD}, by_address=True)
    card = server_card(server, code="KIVI")
    response = admin_client.post(admin_test_url(card), test_data("boss@example.test"))
    assert response.status_code == 200
    [delivery] = server.sink.deliveries
    assert delivery.rcpt_tos == ("boss@example.test",)
    assert delivery.login == "kivi@acme.test"
    html = page_text(response)
    assert "Send test e-mail: KIVI" in html
    assert '<th scope="row">AUTH</th>' in html
    assert "The server accepted the test e-mail for boss@example.test." in html
    assert PASSWORD not in html


def test_admin_test_mail_auth_failure_never_shows_password(admin_client, smtp_server):
    """In the admin too, a rejected password is explained and never shown."""
    server = smtp_server(tls="no", users={"kivi@acme.test": "another"}, by_address=True)
    card = server_card(server, code="KIVI")
    response = admin_client.post(admin_test_url(card), test_data(dry_run=True))
    html = page_text(response)
    assert "rejected the username or password" in html
    assert PASSWORD not in html
    assert MailEvent.objects.filter(user_code="KIVI", cause="auth_rejected").exists()


def test_admin_change_page_offers_test_mail(admin_client):
    """The card's change page links the test and holds the form, addressed to the card."""
    card = UserCardFactory(code="KIVI", email="kivi@acme.test")
    response = admin_client.get(reverse("admin:users_usercard_change", args=[card.pk]))
    html = page_text(response)
    url = admin_test_url(card)
    assert url == f"/admin/users/usercard/{card.pk}/test-mail/"
    assert f'href="{url}"' in html
    assert f'action="{url}"' in html
    assert 'name="test_mail-to" value="kivi@acme.test"' in html
    assert "portal/test_mail.js" in html
    # The test panel is its own form after the card form, never nested in it.
    card_form = html.split('id="usercard_form"', 1)[1].split("</form>", 1)[0]
    assert "data-test-mail-form" not in card_form


def test_admin_test_mail_unknown_card_is_404(admin_client):
    """An id that names no card is a 404."""
    assert admin_client.get("/admin/users/usercard/999999/test-mail/").status_code == 404


def test_usercard_admin_code_read_only_on_change_page(admin_client, card_post_data):
    """The code cannot be renamed on the change page (its account would be left behind)."""
    card = UserCardFactory(code="MARI", name="Mari")
    url = reverse("admin:users_usercard_change", args=[card.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="code"' not in html
    assert "MARI" in html
    response = admin_client.post(url, card_post_data(card, code="RENAMED", name="Mari Mets"))
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.code, card.name) == ("MARI", "Mari Mets")
    assert card.user.username == "MARI"
    assert not UserCard.objects.filter(code__iexact="RENAMED").exists()


def test_usercard_admin_code_editable_on_add_page(admin_client):
    """The add page still asks for the code."""
    html = admin_client.get(reverse("admin:users_usercard_add")).content.decode()
    assert 'name="code"' in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_test_mail_js_shows_transcript_in_place(chromium_page, live_server, smtp_server):
    """In Chromium the dry run's transcript appears on the card page without leaving it."""
    server = smtp_server(tls="starttls", users={"mari@acme.test": PASSWORD}, by_address=True)
    card = server_card(server, code="MARI")
    card.user.set_password(BROWSER_PASSWORD)
    card.user.save()
    page = chromium_page
    page.goto(f"{live_server.url}/accounts/login/?next=/personal/user/")
    page.fill("#id_username", "MARI")
    page.fill("#id_password", BROWSER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/personal/user/")

    assert page.locator("#id_test_mail-to").input_value() == "mari@acme.test"
    page.fill("#id_test_mail-to", "customer@example.test")
    page.check("#id_test_mail-dry_run")
    page.click("[data-test-mail-submit]")
    message = page.locator("[data-test-mail-result] .test-mail-message")
    message.wait_for()
    assert "accepted the dry run" in message.inner_text()
    assert page.url == f"{live_server.url}/personal/user/"
    assert page.locator(".test-mail-transcript th[scope=row]").all_inner_texts()[-1] == "RSET"
    assert PASSWORD not in page.content()
    assert "RSET" in server.sink.verbs()
    assert server.sink.deliveries == []

    # The replaced panel keeps working: a second, bad address is refused in place.
    page.fill("#id_test_mail-to", "not-an-address")
    page.click("[data-test-mail-submit]")
    page.locator("#id_test_mail-to_error").wait_for()
    assert page.url == f"{live_server.url}/personal/user/"
