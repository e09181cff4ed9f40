"""`import_usercards` and `export_usercards` (SPEC.md "Commands")."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.conftest import TEST_KEYS, manage_env
from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from users.models import SystemSettings, UserCard

pytestmark = pytest.mark.django_db


User = get_user_model()


def manage_run(*args: str, stdin: str | None = None, keys: list[str] | None = None):
    """Run `manage.py` in a subprocess against the test database; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=manage_env(keys),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_import(tmp_path: Path, document: object, *args: str) -> tuple[str, str]:
    """Write the document to a file, import it, and return (stdout, stderr)."""
    path = tmp_path / "cards.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_usercards", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def import_error(tmp_path: Path, document: object) -> str:
    """Import a document that must fail and return the error text."""
    with pytest.raises(CommandError) as excinfo:
        run_import(tmp_path, document)
    return str(excinfo.value)


def raw_password(card: UserCard) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT smtp_password FROM users_usercard WHERE id = %s", [card.pk])
        return cursor.fetchone()[0]


def export() -> dict:
    out = io.StringIO()
    call_command("export_usercards", stdout=out)
    return json.loads(out.getvalue())


GLOBAL_ROW = {
    "code": "MAILER",
    "name": "Company mailer",
    "email": "mailer@acme.test",
    "mail_sender": "smtp",
    "mail_server": "smtp.zone.eu:465",
    "ssl_tls": "ssl",
    "smtp_username": "mailer@acme.test",
    "smtp_password": "zone-secret-1",
    "mail_as_attachment": "pdf",
    "attachments_with_email": True,
    "mail_edit": False,
}


def test_import_usercards_creates_cards_and_accounts_with_unusable_passwords(tmp_path):
    """New cards get an account named by the code whose password is unusable."""
    out, _ = run_import(
        tmp_path,
        {
            "system_settings": {"mail_sending_user_code": "MAILER", "company_name": "Acme"},
            "user_cards": [GLOBAL_ROW, {"code": "KIVI", "email": "kivi@acme.test"}],
        },
    )
    assert "2 new and 0 updated" in out
    kivi = UserCard.objects.get(code="KIVI")
    assert kivi.user.username == "KIVI"
    assert not kivi.user.has_usable_password()
    assert not User.objects.get(username="MAILER").has_usable_password()
    assert kivi.mail_sender == "directo" and kivi.mail_as_attachment == "pdf"
    assert SystemSettings.load().mail_sending_user_code == "MAILER"
    assert SystemSettings.load().company_name == "Acme"


def test_import_usercards_stores_password_encrypted(tmp_path):
    """A clear smtp_password is stored as a Fernet token that decrypts back to it."""
    run_import(tmp_path, {"user_cards": [GLOBAL_ROW]})
    card = UserCard.objects.get(code="MAILER")
    raw = raw_password(card)
    assert raw != "zone-secret-1" and "zone-secret-1" not in raw
    assert Fernet(TEST_KEYS[0]).decrypt(raw.encode()).decode() == "zone-secret-1"
    assert card.smtp_password.reveal() == "zone-secret-1"


def test_import_usercards_reads_stdin(monkeypatch):
    """FILE `-` reads the document from standard input."""
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"user_cards": [{"code": "KIVI"}]})))
    call_command("import_usercards", "-", stdout=io.StringIO(), stderr=io.StringIO())
    assert UserCard.objects.filter(code="KIVI").exists()


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        ({"code": "BAD", "mail_sender": "smtp", "mail_server": "smtp.x.test:2525"}, "mail_server"),
        ({"code": "BAD", "mail_sender": "carrier-pigeon"}, "mail_sender"),
        ({"code": "BAD", "name": "Evil\r\nBcc: x@y.test"}, "name"),
        ({"code": "BAD", "colour": "red"}, "colour"),
        ({"code": "BAD", "mail_edit": "maybe"}, "mail_edit"),
        ({"code": "BAD", "email": "not an address"}, "email"),
    ],
)
def test_import_usercards_invalid_row_saves_nothing(tmp_path, bad_row, expected):
    """One invalid row stops the whole import; the error names the row number and field."""
    message = import_error(
        tmp_path,
        {
            "system_settings": {"company_name": "Changed"},
            "user_cards": [{"code": "GOOD"}, bad_row],
        },
    )
    assert f"row 2 (BAD) {expected}:" in message
    assert not UserCard.objects.exists()
    assert not User.objects.exists()
    assert SystemSettings.load().company_name == ""


def test_import_usercards_reports_every_error(tmp_path):
    """Every invalid row and field is listed, in file order, not only the first."""
    message = import_error(
        tmp_path,
        {
            "user_cards": [
                {"code": "ONE", "mail_server": "smtp.x.test:2525", "mail_sender": "smtp"},
                {"code": "OK"},
                {"code": "THREE", "ssl_tls": "tls13", "unknown": 1},
                {"code": "one"},
                {"name": "no code"},
            ]
        },
    )
    lines = [line for line in message.splitlines() if line.startswith("row ")]
    assert lines[0].startswith("row 1 (ONE) mail_server: Port 2525 is not allowed")
    assert any(line.startswith("row 3 (THREE) ssl_tls:") for line in lines)
    assert any(line.startswith("row 3 (THREE) unknown: unknown field") for line in lines)
    assert "row 4 (one) code: the same code is already in row 1" in lines
    assert any(line.startswith("row 5 (?) code:") for line in lines)
    assert [int(line.split()[1]) for line in lines] == sorted(int(x.split()[1]) for x in lines)


def test_import_usercards_error_never_shows_password(tmp_path):
    """An invalid password is reported by field without echoing its value."""
    message = import_error(
        tmp_path, {"user_cards": [{"code": "KIVI", "smtp_password": "top\nsecret-value"}]}
    )
    assert "row 1 (KIVI) smtp_password:" in message
    assert "secret-value" not in message


def test_import_usercards_system_settings_naming_missing_card_is_error(tmp_path):
    """system_settings must name a card that exists after the import."""
    message = import_error(
        tmp_path,
        {"system_settings": {"mail_sending_user_code": "NOBODY"}, "user_cards": [GLOBAL_ROW]},
    )
    assert "system_settings mail_sending_user_code:" in message
    assert "NOBODY" in message
    assert not UserCard.objects.exists()


def test_import_usercards_system_settings_naming_directo_card_is_error(tmp_path):
    """system_settings cannot name a card whose own mode is Directo."""
    message = import_error(
        tmp_path,
        {"system_settings": {"mail_sending_user_code": "kivi"}, "user_cards": [{"code": "KIVI"}]},
    )
    assert "system_settings mail_sending_user_code: Card KIVI sends with “Directo”" in message
    assert not UserCard.objects.exists()


def test_import_usercards_system_settings_unknown_field_is_error(tmp_path):
    """An unknown system_settings field is named."""
    message = import_error(tmp_path, {"system_settings": {"mail_user": "X"}})
    assert "system_settings mail_user: unknown field" in message


def test_import_usercards_system_settings_may_name_card_of_same_file(tmp_path):
    """The global card may be created by the same file, whatever the row order."""
    run_import(
        tmp_path,
        {
            "system_settings": {"mail_sending_user_code": "mailer"},
            "user_cards": [{"code": "KIVI"}, GLOBAL_ROW],
        },
    )
    assert SystemSettings.load().mail_sending_user_code == "MAILER"
    assert UserCard.objects.count() == 2


def test_import_usercards_refuses_switching_global_card_to_directo(tmp_path):
    """A row cannot move the current global card off SMTP while the setting names it."""
    SmtpCardFactory(code="MAILER", name="Before")
    system_settings_set(mail_sending_user_code="MAILER")
    message = import_error(
        tmp_path, {"user_cards": [{"code": "MAILER", "mail_sender": "directo", "name": "After"}]}
    )
    assert "row 1 (MAILER) mail_sender:" in message
    assert UserCard.objects.get(code="MAILER").name == "Before"


def test_import_usercards_switches_old_global_card_when_file_names_new_one(tmp_path):
    """Naming a new global card in the same file frees the old one to change mode."""
    SmtpCardFactory(code="OLD")
    system_settings_set(mail_sending_user_code="OLD")
    run_import(
        tmp_path,
        {
            "system_settings": {"mail_sending_user_code": "MAILER"},
            "user_cards": [{"code": "OLD", "mail_sender": "directo"}, GLOBAL_ROW],
        },
    )
    assert UserCard.objects.get(code="OLD").mail_sender == "directo"
    assert SystemSettings.load().mail_sending_user_code == "MAILER"


def test_import_usercards_upserts_by_code_case_insensitively(tmp_path):
    """A row whose code matches an existing card in any case updates that card."""
    card = UserCardFactory(code="KIVI", name="Old name", email="kivi@acme.test", mail_edit=False)
    out, _ = run_import(tmp_path, {"user_cards": [{"code": "kivi", "name": "New name"}]})
    assert "0 new and 1 updated" in out
    assert UserCard.objects.count() == 1
    card.refresh_from_db()
    assert (card.code, card.name, card.email) == ("KIVI", "New name", "kivi@acme.test")


def test_import_usercards_password_missing_keeps_and_empty_clears(tmp_path):
    """A missing or null password keeps the stored one; an empty string clears it."""
    card = SmtpCardFactory(code="KIVI", smtp_password="keep-me")
    run_import(tmp_path, {"user_cards": [{"code": "KIVI", "name": "A"}]})
    card.refresh_from_db()
    assert card.smtp_password.reveal() == "keep-me"
    run_import(tmp_path, {"user_cards": [{"code": "KIVI", "smtp_password": None}]})
    card.refresh_from_db()
    assert card.smtp_password.reveal() == "keep-me"
    run_import(tmp_path, {"user_cards": [{"code": "KIVI", "smtp_password": ""}]})
    card.refresh_from_db()
    assert card.smtp_password.reveal() == ""
    assert raw_password(card) == ""


def test_import_usercards_replaces_password_stored_under_lost_key(tmp_path, settings):
    """A password no key opens can still be replaced by giving a new one in the file."""
    card = SmtpCardFactory(code="KIVI", smtp_password="lost")
    settings.FIELD_ENCRYPTION_KEYS = [TEST_KEYS[1]]
    message = import_error(tmp_path, {"user_cards": [{"code": "KIVI", "name": "X"}]})
    assert "row 1 (KIVI) smtp_password:" in message and "FIELD_ENCRYPTION_KEYS" in message
    run_import(tmp_path, {"user_cards": [{"code": "KIVI", "smtp_password": "fresh"}]})
    assert UserCard.objects.get(pk=card.pk).smtp_password.reveal() == "fresh"


def test_import_usercards_accepts_yes_no_booleans(tmp_path):
    """Booleans may be JSON booleans or the Directo UI's "Yes"/"No"."""
    run_import(
        tmp_path,
        {
            "user_cards": [
                {"code": "A", "attachments_with_email": "Yes", "mail_edit": "no"},
                {"code": "B", "attachments_with_email": False, "mail_edit": True},
            ]
        },
    )
    a, b = UserCard.objects.get(code="A"), UserCard.objects.get(code="B")
    assert (a.attachments_with_email, a.mail_edit) == (True, False)
    assert (b.attachments_with_email, b.mail_edit) == (False, True)


def test_import_usercards_prints_warnings_without_failing(tmp_path):
    """Card warnings (SSL/TLS versus port) are printed, and the import still succeeds."""
    row = {**GLOBAL_ROW, "ssl_tls": "starttls"}
    _, err = run_import(tmp_path, {"user_cards": [row]})
    assert "warning: row 1 (MAILER): Port 465 usually expects “SSL”" in err
    assert UserCard.objects.get(code="MAILER").ssl_tls == "starttls"


def test_import_usercards_dry_run_saves_nothing(tmp_path):
    """--dry-run validates and reports the counts but leaves the database as it was."""
    out, _ = run_import(tmp_path, {"user_cards": [GLOBAL_ROW]}, "--dry-run")
    assert "Would import 1 new" in out
    assert not UserCard.objects.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "one JSON object"),
        ('{"cards": []}', "cards: unknown key"),
        ('{"user_cards": {}}', "user_cards: must be a list"),
    ],
)
def test_import_usercards_malformed_document_is_error(tmp_path, text, expected):
    """A file that is not the import document is refused with the reason."""
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match=expected):
        call_command("import_usercards", str(path), stdout=io.StringIO())


def test_export_usercards_leaves_out_secrets():
    """The export has every card field but no password, in clear or encrypted."""
    card = SmtpCardFactory(code="KIVI", smtp_password="do-not-export-me")
    text = io.StringIO()
    call_command("export_usercards", stdout=text)
    document = json.loads(text.getvalue())
    assert "do-not-export-me" not in text.getvalue()
    assert raw_password(card) not in text.getvalue()
    (row,) = document["user_cards"]
    assert "smtp_password" not in row
    assert row["code"] == "KIVI" and row["mail_server"] == "smtp.example.test:587"
    assert set(document) == {"system_settings", "user_cards"}


def test_export_usercards_sorts_cards_by_code():
    """Cards are exported in code order."""
    for code in ("MARI", "ANNE", "KIVI"):
        UserCardFactory(code=code)
    assert [row["code"] for row in export()["user_cards"]] == ["ANNE", "KIVI", "MARI"]


def test_export_usercards_round_trips_into_empty_database(tmp_path):
    """Export, import into an empty database and export again gives the same document."""
    SmtpCardFactory(code="MAILER", mail_server="smtp.zone.eu:465", ssl_tls="ssl")
    UserCardFactory(code="KIVI", mail_edit=True, attachments_with_email=True)
    UserCardFactory(code="LIIS", mail_sender="directo_reply_to", mail_as_attachment="no")
    system_settings_set(mail_sending_user_code="MAILER", company_name="Acme Trading")
    first = export()
    SystemSettings.objects.all().delete()
    UserCard.objects.all().delete()
    User.objects.all().delete()
    run_import(tmp_path, first)
    assert export() == first
    assert len(first["user_cards"]) == 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_import_usercards_exit_status_in_subprocess(tmp_path):
    """The real command exits non-zero with the row error on stderr, and 0 on success."""
    bad = json.dumps({"user_cards": [{"code": "KIVI", "mail_server": "h.test:2525"}]})
    failed = manage_run("import_usercards", "-", stdin=bad)
    assert failed.returncode != 0
    assert "row 1 (KIVI) mail_server: Port 2525 is not allowed" in failed.stderr
    assert not UserCard.objects.exists()
    path = tmp_path / "good.json"
    path.write_text(json.dumps({"user_cards": [GLOBAL_ROW]}), encoding="utf-8")
    done = manage_run("import_usercards", str(path))
    assert done.returncode == 0, done.stderr
    assert UserCard.objects.get(code="MAILER").smtp_password.reveal() == "zone-secret-1"
    exported = manage_run("export_usercards")
    assert exported.returncode == 0
    assert json.loads(exported.stdout)["user_cards"][0]["code"] == "MAILER"
    assert "zone-secret-1" not in exported.stdout
