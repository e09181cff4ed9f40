"""Status, disconnect and the administrator's limits."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from oauth365.flows import FLOW_SESSION_KEY
from oauth365.models import M365Connection, M365Status
from tests.factories import UserCardFactory
from users.models import MailSender

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    admin_user = get_user_model().objects.create_superuser("ADMIN", "admin@example.test", "pw")
    client = Client()
    client.force_login(admin_user)
    return client


def test_status_reports_own_card(idp, card, user_client, sign_in):
    """The status JSON describes the user's own card after the sign-in."""
    assert user_client.get("/oauth365/status/").json()["authenticated"] is False
    sign_in(user_client)

    data = user_client.get("/oauth365/status/?next=/personal/user/").json()

    assert data["authenticated"] is True
    assert data["account"] == "kivi@contoso.test"
    assert data["status"] == M365Status.CONNECTED
    assert data["authenticated_at"]
    assert data["outcome"]["message"] == "Microsoft 365 has been authenticated"
    assert "Microsoft 365 has been authenticated" in data["html"]
    assert 'name="next" value="/personal/user/"' in data["html"]
    assert "token_cache" not in str(data) and "rt-" not in str(data)


def test_status_requires_login(db):
    """The status needs a signed-in user."""
    assert Client().get("/oauth365/status/").status_code == 302


def test_status_shows_reauth_needed(idp, card, user_client, sign_in):
    """A card whose consent lapsed is shown as needing a new sign-in."""
    sign_in(user_client)
    M365Connection.objects.filter(card=card).update(status=M365Status.REAUTH_NEEDED)

    data = user_client.get("/oauth365/status/").json()

    assert data["authenticated"] is False
    assert data["status"] == "reauth_needed"
    assert "Re-authentication needed" in data["html"]


def test_disconnect_own_card_deletes_cache(idp, card, user_client, sign_in):
    """The user's Disconnect deletes the cache of their own card."""
    sign_in(user_client)

    response = user_client.post("/oauth365/disconnect/", {"next": "/personal/user/"})

    assert response["Location"] == "/personal/user/"
    assert not M365Connection.objects.filter(card=card).exists()


def test_disconnect_other_card_requires_staff(idp, card, user_client, sign_in):
    """A user who is not staff cannot disconnect another card."""
    other = UserCardFactory(code="MARI", mail_sender=MailSender.M365_OAUTH)
    M365Connection.objects.create(card=other, tenant_id="t", object_id="o", token_cache="{}")

    response = user_client.post(f"/oauth365/disconnect/{other.pk}/")

    assert response.status_code == 403
    assert M365Connection.objects.filter(card=other).exists()


def test_disconnect_staff_may_disconnect_any_card(staff_client):
    """An administrator can disconnect any card's Microsoft 365."""
    other = UserCardFactory(code="MARI", mail_sender=MailSender.M365_OAUTH)
    M365Connection.objects.create(card=other, tenant_id="t", object_id="o", token_cache="{}")

    response = staff_client.post(f"/oauth365/disconnect/{other.pk}/")

    assert response.status_code == 302
    assert not M365Connection.objects.filter(card=other).exists()


def test_start_by_staff_only_for_own_card(idp, card, staff_client):
    """An administrator cannot start a sign-in for another user's card."""
    response = staff_client.post("/oauth365/start/", {"popup": "1", "card": str(card.pk)})

    assert "no user card" in response.content.decode()
    assert FLOW_SESSION_KEY not in staff_client.session
    assert idp.authorize_requests == []


def test_admin_connection_list_hides_token_cache(idp, card, user_client, sign_in, staff_client):
    """The admin lists every card's Microsoft 365 status without the token cache."""
    sign_in(user_client)
    connection = M365Connection.objects.get(card=card)

    listing = staff_client.get("/admin/oauth365/m365connection/").content.decode()
    detail = staff_client.get(f"/admin/oauth365/m365connection/{connection.pk}/change/")

    assert "kivi@contoso.test" in listing
    assert "RefreshToken" not in detail.content.decode()
    assert "token_cache" not in detail.content.decode()


def test_admin_disconnect_action_deletes_cache(idp, card, user_client, sign_in, staff_client):
    """The admin action Disconnect deletes the chosen cards' token caches."""
    sign_in(user_client)
    connection = M365Connection.objects.get(card=card)

    staff_client.post(
        "/admin/oauth365/m365connection/",
        {"action": "disconnect", "_selected_action": [str(connection.pk)]},
    )

    assert not M365Connection.objects.filter(card=card).exists()
