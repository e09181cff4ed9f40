"""The `seed_demo` command: demo administrator, system settings and cards, safe to re-run."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from mailer.services import sender_config_get
from users.models import SystemSettings, UserCard

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development(settings):
    """Seed as in development, where the demo data is meant to be."""
    settings.DEVELOPMENT = True


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def card_view(code: str) -> dict:
    return sender_config_get(card=UserCard.objects.get(code=code)).public_view()


def test_seed_demo_creates_cards_and_system_settings():
    """The global SMTP card is named by the system settings and every demo card exists."""
    seed()
    system = SystemSettings.load()
    assert system.company_name == "Acme Trading"
    assert system.mail_sending_user_code == "MAILER"
    mailer = UserCard.objects.get(code="MAILER")
    assert (mailer.mail_sender, mailer.mail_server, mailer.ssl_tls) == (
        "smtp",
        "smtp.zone.eu:465",
        "ssl",
    )
    assert mailer.smtp_username and mailer.smtp_password
    modes = dict(UserCard.objects.values_list("code", "mail_sender"))
    assert modes == {
        "MAILER": "smtp",
        "KIVI": "directo",
        "MARI": "directo",
        "JAAN": "smtp",
        "LIIS": "directo_reply_to",
    }
    jaan = UserCard.objects.get(code="JAAN")
    assert jaan.mail_server == "" and jaan.smtp_username and jaan.smtp_password


def test_seed_demo_prints_logins_that_work():
    """The printed admin and end-user logins authenticate; end users are not staff."""
    output = seed()
    assert "username admin  password admin-demo" in output
    assert "username KIVI  password user-demo" in output
    users = get_user_model().objects
    admin = users.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("admin-demo")
    kivi = users.get(username="KIVI")
    assert kivi.check_password("user-demo") and not kivi.is_staff
    assert kivi.card.code == "KIVI"
    assert not users.get(username="MAILER").has_usable_password()


def test_seed_demo_is_idempotent():
    """A second run creates nothing new and keeps the stored secrets and settings."""
    seed()
    password_token = UserCard.objects.filter(code="MAILER").values_list("smtp_password", flat=True)
    before = (list(password_token), UserCard.objects.count(), get_user_model().objects.count())
    seed()
    after = (list(password_token), UserCard.objects.count(), get_user_model().objects.count())
    assert before == after
    assert after[1] == 5


def test_seed_demo_keeps_edited_rows_and_changed_passwords():
    """Re-running never overwrites a card, a system setting or a password someone changed."""
    seed()
    UserCard.objects.filter(code="KIVI").update(name="Changed")
    SystemSettings.objects.update(company_name="Other Company")
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("chosen-by-admin")
    admin.save()
    output = seed()
    admin.refresh_from_db()
    assert admin.check_password("chosen-by-admin")
    assert "password unchanged" in output
    assert UserCard.objects.get(code="KIVI").name == "Changed"
    assert SystemSettings.load().company_name == "Other Company"


def test_seed_demo_resolves_inheriting_user_to_global_smtp():
    """A Directo demo user resolves to SMTP through the global card MAILER, ready to send."""
    seed()
    view = card_view("KIVI")
    assert view["mode"] == "smtp"
    assert view["sources"]["mode"] == "global:MAILER"
    assert (view["host"], view["port"], view["ssl_tls"]) == ("smtp.zone.eu", 465, "ssl")
    assert view["username"] == "mailer@acme-trading.test"
    assert view["sources"]["username"] == "global:MAILER"
    assert view["from"] == "kivi@acme-trading.test"
    assert view["ready"] and view["mass_mail_allowed"]


def test_seed_demo_resolves_own_credentials_on_global_server():
    """The username-and-password user keeps its own credential pair on MAILER's server."""
    seed()
    view = card_view("JAAN")
    assert view["mode"] == "smtp" and view["sources"]["mode"] == "user"
    assert view["host"] == "smtp.zone.eu" and view["sources"]["host"] == "global:MAILER"
    assert view["username"] == "jaan@acme-trading.test" and view["password_set"]
    assert view["sources"]["username"] == "user"
    assert view["ready"]


def test_seed_demo_resolves_reply_to_user_to_event_mailbox():
    """The Directo-Reply-To user sends from the company's event mailbox with Reply-To set."""
    seed()
    view = card_view("LIIS")
    assert view["mode"] == "directo_reply_to"
    assert view["from"] == "acme-trading@event.data.directo.ee"
    assert view["envelope_from"] == view["from"]
    assert view["reply_to"] == "liis@acme-trading.test"
    assert not view["mass_mail_allowed"]


def test_seed_demo_refuses_published_password_outside_development(settings):
    """Outside development the command refuses the published demo password and creates nothing."""
    settings.DEVELOPMENT = False
    with pytest.raises(CommandError, match="--password"):
        seed()
    assert not get_user_model().objects.filter(username="admin").exists()
    assert not UserCard.objects.exists()


def test_seed_demo_uses_given_password_outside_development(settings):
    """With --password outside development, the admin and the demo users get that password."""
    settings.DEVELOPMENT = False
    output = seed("--password", "s3cret-Chosen")
    assert "admin-demo" not in output and "user-demo" not in output
    assert "s3cret-Chosen" not in output
    users = get_user_model().objects
    assert users.get(username="admin").check_password("s3cret-Chosen")
    assert users.get(username="MARI").check_password("s3cret-Chosen")
