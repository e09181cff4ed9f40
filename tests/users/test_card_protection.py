"""A card's secrets follow its server, addresses are unique, the global card's account stays.

Issue 10, items 7, 13 and 14.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.urls import reverse

from oauth365.models import M365Connection
from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from users.models import MailSender, UserCard
from users.transfer import usercards_import

pytestmark = pytest.mark.django_db

PASSWORD = "Stored-Secret-4711"


def reload(card: UserCard) -> UserCard:
    return UserCard.objects.get(pk=card.pk)


# -- item 13: a changed server host drops the stored secrets ------------------------------------


def test_usercard_admin_server_change_clears_password(admin_client, card_post_data):
    """Pointing a card at another host without retyping the password removes the password."""
    card = SmtpCardFactory(smtp_password=PASSWORD, mail_server="smtp.zone.eu:465")
    response = admin_client.post(
        reverse("admin:users_usercard_change", args=[card.pk]),
        card_post_data(card, mail_server="attacker.example.test:465", ssl_tls="ssl"),
        follow=True,
    )
    assert response.status_code == 200
    stored = reload(card)
    assert stored.mail_server == "attacker.example.test:465"
    assert not stored.smtp_password
    assert "the stored password was removed" in response.content.decode()


def test_usercard_admin_server_change_keeps_password_entered_again(admin_client, card_post_data):
    """The same password typed again in the same save goes with the new host."""
    card = SmtpCardFactory(smtp_password=PASSWORD, mail_server="smtp.zone.ee:465")
    admin_client.post(
        reverse("admin:users_usercard_change", args=[card.pk]),
        card_post_data(card, mail_server="smtp.zone.eu:465", smtp_password=PASSWORD),
    )
    assert reload(card).smtp_password.reveal() == PASSWORD


def test_usercard_save_same_host_other_port_keeps_password():
    """A change of port alone (same host) keeps the password."""
    card = SmtpCardFactory(smtp_password=PASSWORD, mail_server="smtp.zone.eu:465")
    card = reload(card)
    card.mail_server = "SMTP.zone.eu:587"
    card.save()
    assert reload(card).smtp_password.reveal() == PASSWORD


def test_usercard_server_change_drops_m365_token():
    """A new host drops the card's Microsoft 365 token cache: the user signs in again."""
    card = UserCardFactory(
        mail_sender=MailSender.M365_OAUTH, mail_server="smtp.office365.com:587", ssl_tls="starttls"
    )
    M365Connection.objects.create(card=card, token_cache="{}", account="a@contoso.test")
    card = reload(card)
    card.mail_server = "attacker.example.test:587"
    card.save()
    assert not M365Connection.objects.filter(card=card).exists()


def test_usercard_global_host_change_clears_inheriting_passwords():
    """Cards that use the global card's server with their own password lose it with the host."""
    global_card = SmtpCardFactory(code="MAILER", smtp_password=PASSWORD)
    system_settings_set(mail_sending_user_code="MAILER")
    inheriting = UserCardFactory(code="JAAN", smtp_username="jaan", smtp_password="jaan-pw")
    own_server = SmtpCardFactory(code="KIVI", smtp_password="kivi-pw")
    global_card = reload(global_card)
    global_card.mail_server = "attacker.example.test:587"
    global_card.save()
    assert global_card.inheriting_secrets_dropped == 1
    assert not reload(inheriting).smtp_password
    assert reload(own_server).smtp_password.reveal() == "kivi-pw"


def test_import_server_change_without_password_clears_it():
    """An import row that changes the host and gives no password clears the stored one."""
    card = SmtpCardFactory(code="KIVI", smtp_password=PASSWORD, mail_server="smtp.zone.eu:465")
    usercards_import(
        document={"user_cards": [{"code": "KIVI", "mail_server": "other.example.test:465"}]}
    )
    assert not reload(card).smtp_password
    usercards_import(
        document={
            "user_cards": [
                {"code": "KIVI", "mail_server": "third.example.test:465", "smtp_password": "n"}
            ]
        }
    )
    assert reload(card).smtp_password.reveal() == "n"


# -- item 7: unique addresses --------------------------------------------------------------------


def test_usercard_email_unique_case_insensitively(admin_client, card_post_data):
    """A card cannot take another card's address, in any letter case."""
    UserCardFactory(code="KIVI", email="kivi@acme.test")
    mari = UserCardFactory(code="MARI", email="mari@acme.test")
    response = admin_client.post(
        reverse("admin:users_usercard_change", args=[mari.pk]),
        card_post_data(mari, email="KIVI@Acme.test"),
    )
    assert response.status_code == 200
    assert "Another card already has this e-mail address" in response.content.decode()
    assert reload(mari).email == "mari@acme.test"
    mari.email = "Kivi@acme.TEST"
    with pytest.raises(ValidationError):
        mari.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        mari.save()


def test_import_duplicate_address_is_refused_whole():
    """An import that gives two cards one address saves nothing and names the row."""
    UserCardFactory(code="KIVI", email="kivi@acme.test")
    document = {"user_cards": [{"code": "NEW", "email": "kivi@ACME.test"}]}
    with pytest.raises(Exception, match="e-mail address") as info:
        usercards_import(document=document)
    assert "row 1" in json.dumps(getattr(info.value, "errors", str(info.value)))
    assert not UserCard.objects.filter(code="NEW").exists()


# -- item 14: the global card's login account --------------------------------------------------


def test_global_card_account_delete_is_refused():
    """Deleting the global card's login account is refused; the card and account stay."""
    card = SmtpCardFactory(code="MAILER")
    system_settings_set(mail_sending_user_code="MAILER")
    with pytest.raises(ProtectedError):
        card.user.delete()
    with pytest.raises(ProtectedError):
        get_user_model().objects.filter(pk=card.user_id).delete()
    assert UserCard.objects.filter(code="MAILER").exists()
    other = UserCardFactory(code="MARI")
    other.user.delete()
    assert not UserCard.objects.filter(code="MARI").exists()


def test_global_card_account_delete_in_admin_shows_protection(admin_client):
    """The admin's delete page for the account names the protected card instead of deleting."""
    card = SmtpCardFactory(code="MAILER")
    system_settings_set(mail_sending_user_code="MAILER")
    url = reverse("admin:auth_user_delete", args=[card.user_id])
    page = admin_client.get(url).content.decode()
    assert "MAILER" in page
    admin_client.post(url, {"post": "yes"})
    assert UserCard.objects.filter(code="MAILER").exists()
    assert get_user_model().objects.filter(pk=card.user_id).exists()
