"""`mail_settings CODE [--json]`: the resolver's answer for one card (SPEC.md "Commands")."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from tests.users.test_import_export import manage_run

pytestmark = pytest.mark.django_db


JSON_KEYS = {
    "mode",
    "host",
    "port",
    "ssl_tls",
    "username",
    "password_set",
    "from",
    "reply_to",
    "envelope_from",
    "mass_mail_allowed",
    "sources",
    "ready",
    "missing",
}


def mail_settings(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("mail_settings", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def global_smtp():
    """A global SMTP card named by the system settings, and a user inheriting it."""
    mailer = SmtpCardFactory(
        code="MAILER",
        email="mailer@acme.test",
        mail_server="smtp.zone.eu:465",
        ssl_tls="ssl",
        smtp_username="mailer@acme.test",
        smtp_password="global-secret-42",
    )
    system_settings_set(mail_sending_user_code="MAILER", company_name="Acme Trading")
    kivi = UserCardFactory(code="KIVI", email="kivi@acme.test")
    return mailer, kivi


def test_mail_settings_json_inheriting_user_takes_global_card(global_smtp):
    """A Directo user resolves to the global card's SMTP, each value with its source."""
    out, _ = mail_settings("kivi", "--json")
    result = json.loads(out)
    assert set(result) == JSON_KEYS
    assert result["mode"] == "smtp"
    assert (result["host"], result["port"], result["ssl_tls"]) == ("smtp.zone.eu", 465, "ssl")
    assert result["username"] == "mailer@acme.test"
    assert result["password_set"] is True
    assert (result["from"], result["envelope_from"], result["reply_to"]) == (
        "kivi@acme.test",
        "kivi@acme.test",
        "",
    )
    assert result["mass_mail_allowed"] is True
    assert result["ready"] is True and result["missing"] == []
    for key in ("mode", "host", "port", "ssl_tls", "username", "password_set"):
        assert result["sources"][key] == "global:MAILER"
    assert result["sources"]["from"] == "user"
    assert "global-secret-42" not in out


def test_mail_settings_json_global_card_uses_its_own_values(global_smtp):
    """The global card itself resolves from its own fields (source `user`)."""
    result = json.loads(mail_settings("MAILER", "--json")[0])
    assert result["mode"] == "smtp" and result["host"] == "smtp.zone.eu"
    assert result["sources"]["host"] == result["sources"]["username"] == "user"
    assert result["ready"] is True


def test_mail_settings_json_directo_reply_to_uses_event_mailbox(global_smtp):
    """Directo-Reply-To sends from the company's event mailbox with Reply-To the user."""
    UserCardFactory(code="LIIS", email="liis@acme.test", mail_sender="directo_reply_to")
    result = json.loads(mail_settings("LIIS", "--json")[0])
    assert result["mode"] == "directo_reply_to"
    assert result["from"] == result["envelope_from"] == "acme-trading@event.data.directo.ee"
    assert result["reply_to"] == "liis@acme.test"
    assert result["sources"]["from"] == "platform" and result["sources"]["host"] == "platform"
    assert result["mass_mail_allowed"] is False


def test_mail_settings_json_global_password_withheld_without_ssl(global_smtp):
    """On the global host with SSL/TLS No the user shows no global pair, not ready, and why."""
    _, kivi = global_smtp
    kivi.mail_server, kivi.ssl_tls = "smtp.zone.eu:465", "no"
    kivi.save()
    out, _ = mail_settings("KIVI", "--json")
    result = json.loads(out)
    assert (result["host"], result["port"], result["ssl_tls"]) == ("smtp.zone.eu", 465, "no")
    assert result["sources"]["host"] == result["sources"]["ssl_tls"] == "user"
    assert result["sources"]["mode"] == "global:MAILER"
    assert (result["username"], result["password_set"]) == ("", False)
    assert result["sources"]["username"] == result["sources"]["password_set"] == "user"
    assert result["ready"] is False
    assert result["missing"] == [
        "smtp_password: the global card MAILER's username and password go only to MAILER's "
        "server smtp.zone.eu:465 with SSL; set your own Username and Password on card KIVI, or "
        "use the global server's settings (clear Mail server and SSL/TLS on card KIVI)"
    ]
    assert "global-secret-42" not in out


def test_mail_settings_not_ready_exits_zero_with_missing():
    """An incomplete card is shown as not ready, names what is missing, and does not fail."""
    UserCardFactory(code="SOLO", mail_sender="smtp", email="solo@acme.test")
    result = json.loads(mail_settings("solo", "--json")[0])
    assert result["ready"] is False
    assert any(item.startswith("mail_server:") for item in result["missing"])
    assert result["host"] == "" and result["port"] is None


def test_mail_settings_human_output_is_table_with_sources(global_smtp):
    """Without --json each field is a line with its value and source, then Ready and Missing."""
    out, _ = mail_settings("KIVI")
    lines = out.splitlines()
    host_line = next(line for line in lines if line.split()[:1] == ["host"])
    assert host_line.split() == ["host", "smtp.zone.eu", "global:MAILER"]
    from_line = next(line for line in lines if line.split()[:1] == ["from"])
    # Aligned: the values start in the same column.
    assert host_line.index("smtp.zone.eu") == from_line.index("kivi@acme.test")
    assert "Ready: yes" in lines
    assert "Missing: nothing" in lines
    assert "global-secret-42" not in out


def test_mail_settings_human_output_lists_missing():
    """A not-ready card lists each missing item under Missing."""
    UserCardFactory(code="SOLO", mail_sender="smtp", email="")
    out, _ = mail_settings("SOLO")
    assert "Ready: no" in out
    assert "  - email:" in out and "  - mail_server:" in out


def test_mail_settings_unknown_code_is_error():
    """An unknown code raises CommandError naming the code."""
    with pytest.raises(CommandError, match="NOBODY"):
        mail_settings("NOBODY", "--json")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_mail_settings_exit_status_in_subprocess():
    """The real command exits 0 for an existing card, ready or not, and 1 for an unknown one."""
    UserCardFactory(code="SOLO", mail_sender="smtp", email="solo@acme.test")
    done = manage_run("mail_settings", "solo", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ready"] is False
    unknown = manage_run("mail_settings", "NOBODY")
    assert unknown.returncode != 0
    assert "NOBODY" in unknown.stderr and unknown.stdout == ""


def test_mail_settings_undecryptable_password_is_error(global_smtp, settings):
    """A password no key opens stops the command with the fix, not a traceback or the token."""
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEYS") as excinfo:
        mail_settings("KIVI", "--json")
    assert "gAAAA" not in str(excinfo.value)
