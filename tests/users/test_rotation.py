"""`rotate_encryption_keys`: every secret re-encrypted with the first key, resumably."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from oauth365.models import M365Connection
from tests.conftest import TEST_KEYS, use_keys
from tests.factories import SmtpCardFactory, UserCardFactory
from tests.users.test_import_export import manage_env, manage_run
from users import services
from users.models import UserCard

pytestmark = pytest.mark.django_db


OLD, NEW = TEST_KEYS
UNKNOWN = Fernet.generate_key().decode()


def raw_tokens(table: str, column: str) -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM {table} WHERE {column} <> '' ORDER BY id")
        return dict(cursor.fetchall())


def all_raw_tokens() -> dict[tuple[str, int], str]:
    tokens = {("card", pk): v for pk, v in raw_tokens("users_usercard", "smtp_password").items()}
    m365 = raw_tokens("oauth365_m365connection", "token_cache")
    tokens.update({("m365", pk): value for pk, value in m365.items()})
    return tokens


def opens_with(key: str, token: str) -> bool:
    try:
        Fernet(key).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rotate_json(*args: str) -> dict:
    return json.loads(rotate("--json", *args)[0])


@pytest.fixture
def old_secrets():
    """Three card passwords and one Microsoft 365 token cache, encrypted under the old key."""
    cards = [SmtpCardFactory(smtp_password=f"password-{n}") for n in range(3)]
    UserCardFactory(code="NOPASS")  # Empty secret: stays '' and is not counted.
    M365Connection.objects.create(card=cards[0], token_cache='{"AccessToken": {}}', account="a@x")
    assert all(opens_with(OLD, token) for token in all_raw_tokens().values())
    return cards


def test_encrypted_columns_include_every_encrypted_field():
    """Discovery finds the card password and the Microsoft 365 token cache."""
    labels = {column.label for column in services.encrypted_columns()}
    assert labels == {"users.UserCard.smtp_password", "oauth365.M365Connection.token_cache"}


def test_rotate_encryption_keys_reencrypts_every_secret_with_first_key(settings, old_secrets):
    """After rotation every stored secret opens with the new key alone, values unchanged."""
    use_keys(settings, NEW, OLD)
    out, _ = rotate()
    assert "Total: 4 rotated, 0 already current, 0 failed." in out
    tokens = all_raw_tokens()
    assert len(tokens) == 4
    assert all(opens_with(NEW, token) and not opens_with(OLD, token) for token in tokens.values())
    use_keys(settings, NEW)
    assert sorted(
        card.smtp_password.reveal() for card in UserCard.objects.exclude(smtp_password="")
    ) == [
        "password-0",
        "password-1",
        "password-2",
    ]
    assert M365Connection.objects.get().token_cache.reveal() == '{"AccessToken": {}}'


def test_rotate_encryption_keys_second_run_rotates_nothing(settings, old_secrets):
    """Values already under the first key are skipped and left byte for byte."""
    use_keys(settings, NEW, OLD)
    rotate()
    before = all_raw_tokens()
    report = rotate_json()
    assert (report["rotated"], report["already_current"], report["failed"]) == (0, 4, [])
    assert all_raw_tokens() == before


def test_rotate_encryption_keys_reports_unknown_key_and_leaves_row(settings, old_secrets):
    """A value no key opens is named by model, pk and field, untouched, and fails the run."""
    stranger = SmtpCardFactory(code="STRANGER")
    foreign = Fernet(UNKNOWN).encrypt(b"foreign-secret").decode()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE users_usercard SET smtp_password = %s WHERE id = %s", [foreign, stranger.pk]
        )
    use_keys(settings, NEW, OLD)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotate_encryption_keys", stdout=out, stderr=err)
    assert f"users.UserCard pk={stranger.pk} field smtp_password" in err.getvalue()
    assert foreign not in err.getvalue() + out.getvalue()
    assert "4 rotated, 0 already current, 1 failed" in out.getvalue()
    assert raw_tokens("users_usercard", "smtp_password")[stranger.pk] == foreign
    others = {k: v for k, v in all_raw_tokens().items() if k != ("card", stranger.pk)}
    assert all(opens_with(NEW, token) for token in others.values())


def test_rotate_encryption_keys_limit_stops_and_rerun_completes(settings, old_secrets):
    """--limit stops early without harm; the next run finishes the rest."""
    use_keys(settings, NEW, OLD)
    first = rotate_json("--limit", "1")
    assert (first["rotated"], first["complete"]) == (1, False)
    assert sum(opens_with(NEW, token) for token in all_raw_tokens().values()) == 1
    second = rotate_json()
    assert (second["rotated"], second["already_current"], second["complete"]) == (3, 1, True)
    assert all(opens_with(NEW, token) for token in all_raw_tokens().values())


def test_rotate_encryption_keys_resumes_after_crash(settings, old_secrets, monkeypatch):
    """A run killed after its first write keeps that write; a rerun rotates the rest."""
    use_keys(settings, NEW, OLD)
    real_swap = services._token_swap
    writes = []

    def swap_then_crash(*args, **kwargs):
        if writes:
            raise RuntimeError("interrupted")
        writes.append(args)
        return real_swap(*args, **kwargs)

    monkeypatch.setattr(services, "_token_swap", swap_then_crash)
    with pytest.raises(RuntimeError, match="interrupted"):
        rotate()
    assert sum(opens_with(NEW, token) for token in all_raw_tokens().values()) == 1
    monkeypatch.setattr(services, "_token_swap", real_swap)
    report = rotate_json()
    assert (report["rotated"], report["already_current"]) == (3, 1)
    assert all(opens_with(NEW, token) for token in all_raw_tokens().values())


def test_rotate_encryption_keys_never_overwrites_concurrent_change(settings, monkeypatch):
    """A value saved between the read and the write is kept, not replaced by a stale copy."""
    card = SmtpCardFactory(smtp_password="old-password")
    use_keys(settings, NEW, OLD)
    concurrent = Fernet(NEW).encrypt(b"new-password").decode()
    real_rotate = services.secret_rotate

    def rotate_while_saved(token):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE users_usercard SET smtp_password = %s WHERE id = %s", [concurrent, card.pk]
            )
        return real_rotate(token)

    monkeypatch.setattr(services, "secret_rotate", rotate_while_saved)
    report = rotate_json()
    assert (report["rotated"], report["already_current"]) == (0, 1)
    assert raw_tokens("users_usercard", "smtp_password")[card.pk] == concurrent


def test_rotate_encryption_keys_dry_run_writes_nothing(settings, old_secrets):
    """--dry-run counts what would be rotated and leaves every value as it was."""
    use_keys(settings, NEW, OLD)
    before = all_raw_tokens()
    out, _ = rotate("--dry-run")
    assert "Total: 4 would rotate, 0 already current, 0 failed." in out
    assert all_raw_tokens() == before


def test_rotate_encryption_keys_without_keys_is_error(settings):
    """Missing keys outside development stop the command with the variable's name."""
    settings.DEVELOPMENT = False
    use_keys(settings)
    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEYS"):
        rotate()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_rotate_encryption_keys_concurrent_runs_rotate_each_value_once():
    """Two runs at once both succeed and together rotate every value exactly once."""
    for n in range(200):
        SmtpCardFactory(smtp_password=f"password-{n}")
    command = [sys.executable, "manage.py", "rotate_encryption_keys", "--json"]
    runs = [
        subprocess.Popen(
            command,
            cwd=django_settings.BASE_DIR,
            env=manage_env([NEW, OLD]),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(report["rotated"] for report in reports) == 200
    assert all(opens_with(NEW, token) for token in all_raw_tokens().values())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_rotate_encryption_keys_exit_status_in_subprocess():
    """The real command exits 0 when all is rotated and non-zero when a value cannot be opened."""
    card = SmtpCardFactory(smtp_password="password-1")
    done = manage_run("rotate_encryption_keys", keys=[NEW, OLD])
    assert done.returncode == 0, done.stderr
    assert opens_with(NEW, raw_tokens("users_usercard", "smtp_password")[card.pk])
    failed = manage_run("rotate_encryption_keys", keys=[UNKNOWN])
    assert failed.returncode != 0
    assert f"users.UserCard pk={card.pk} field smtp_password" in failed.stderr
    assert "password-1" not in failed.stderr + failed.stdout
    assert opens_with(NEW, raw_tokens("users_usercard", "smtp_password")[card.pk])
