"""Microsoft 365 in one step: signing in from an unsaved choice saves the card in that mode."""

from __future__ import annotations

import pytest
from django.test import Client

from oauth365.flows import FLOW_SESSION_KEY
from oauth365.models import M365Connection
from tests.factories import UserCardFactory
from users.models import MailSender, UserCard

pytestmark = pytest.mark.django_db


@pytest.fixture
def directo_card(db) -> UserCard:
    return UserCardFactory(code="KIVI", email="kivi@contoso.test", mail_sender=MailSender.DIRECTO)


@pytest.fixture
def directo_client(directo_card: UserCard) -> Client:
    client = Client()
    client.force_login(directo_card.user)
    return client


def test_start_from_unsaved_choice_remembers_the_switch(idp, directo_card, directo_client, sign_in):
    """The pending flow keeps "switch to Microsoft 365 OAUTH on success" when the page asks."""
    sign_in.start(directo_client, switch_mode="1")

    assert directo_client.session[FLOW_SESSION_KEY]["switch_mode"] is True
    directo_card.refresh_from_db()
    assert directo_card.mail_sender == MailSender.DIRECTO


def test_callback_from_unsaved_choice_saves_card_in_m365_mode(
    idp, directo_card, directo_client, sign_in
):
    """Completing the sign-in started from the unsaved choice saves the card in m365_oauth."""
    response = sign_in(directo_client, switch_mode="1")

    assert "Microsoft 365 has been authenticated" in response.content.decode()
    directo_card.refresh_from_db()
    assert directo_card.mail_sender == MailSender.M365_OAUTH
    assert M365Connection.objects.get(card=directo_card).account == "kivi@contoso.test"
    page = directo_client.get("/personal/user/").content.decode()
    assert 'name="switch_mode"' not in page


def test_callback_without_switch_keeps_the_saved_mode(idp, directo_card, directo_client, sign_in):
    """A sign-in not started from the choice leaves the card's mail sender as it was."""
    sign_in(directo_client)

    directo_card.refresh_from_db()
    assert directo_card.mail_sender == MailSender.DIRECTO
    assert M365Connection.objects.filter(card=directo_card).exists()


def test_callback_refused_sign_in_keeps_the_saved_mode(idp, directo_card, directo_client, sign_in):
    """A refused sign-in (consent denied) does not switch the card's mail sender."""
    idp.authorize_mode = "error"

    sign_in(directo_client, switch_mode="1")

    directo_card.refresh_from_db()
    assert directo_card.mail_sender == MailSender.DIRECTO
    assert not M365Connection.objects.exists()
