"""Microsoft 365 on the admin card page: authenticate your own card, disconnect any."""

from __future__ import annotations

import pytest
from django.utils import timezone

from oauth365.models import M365Connection
from tests.factories import UserCardFactory, UserFactory

pytestmark = pytest.mark.django_db


def _url(card) -> str:
    return f"/admin/users/usercard/{card.pk}/change/"


def test_admin_card_of_own_user_offers_authenticate(client):
    """An administrator's own card shows the Authenticate Microsoft 365 button."""
    admin = UserFactory(username="BOSS", is_staff=True, is_superuser=True)
    card = UserCardFactory(code="BOSS", user=admin, mail_sender="m365_oauth")
    client.force_login(admin)
    html = client.get(_url(card)).content.decode()
    assert 'action="/oauth365/start/"' in html
    assert ">Authenticate Microsoft 365</button>" in html


def test_admin_card_of_another_user_offers_only_disconnect(client):
    """Another user's card: a Disconnect button for its connection, never Authenticate."""
    admin = UserFactory(username="BOSS", is_staff=True, is_superuser=True)
    card = UserCardFactory(code="KIVI", mail_sender="m365_oauth")
    M365Connection.objects.create(
        card=card, token_cache="{}", account="kivi@contoso.test", authenticated_at=timezone.now()
    )
    client.force_login(admin)
    html = client.get(_url(card)).content.decode()
    assert 'action="/oauth365/start/"' not in html
    assert f'action="/oauth365/disconnect/{card.pk}/"' in html
    response = client.post(f"/oauth365/disconnect/{card.pk}/", {"next": _url(card)})
    assert response.status_code == 302
    assert not M365Connection.objects.filter(card=card).exists()
