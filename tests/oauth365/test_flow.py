"""The sign-in flow through the real MSAL library against the local identity provider."""

from __future__ import annotations

import json

import pytest
from django.db import connection as db_connection

from oauth365.flows import FLOW_SESSION_KEY
from oauth365.models import M365Connection, M365Status

pytestmark = pytest.mark.django_db


def test_callback_stores_encrypted_cache_with_identity(idp, card, user_client, sign_in):
    """A completed sign-in stores the encrypted cache with tenant, object id and account."""
    response = sign_in(user_client)

    assert response.status_code == 200
    assert "Microsoft 365 has been authenticated" in response.content.decode()
    assert response["Cross-Origin-Opener-Policy"] == "unsafe-none"
    stored = M365Connection.objects.get(card=card)
    assert stored.tenant_id == idp.user.tid
    assert stored.object_id == idp.user.oid
    assert stored.account == "kivi@contoso.test"
    assert stored.status == M365Status.CONNECTED
    assert stored.authenticated_at is not None
    cache = json.loads(stored.token_cache)
    assert len(cache["RefreshToken"]) == 1
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT token_cache FROM oauth365_m365connection WHERE id = %s", [stored.pk])
        raw = cursor.fetchone()[0]
    assert "RefreshToken" not in raw
    assert next(iter(cache["RefreshToken"].values()))["secret"] not in raw
    assert FLOW_SESSION_KEY not in user_client.session
