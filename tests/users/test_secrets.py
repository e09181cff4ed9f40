"""Decrypted secrets never show themselves: pages, logs, reports, dumps (issue 10, item 1)."""

from __future__ import annotations

import copy
import io
import json
import logging
import pickle
import sys

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.views.debug import ExceptionReporter
from kombu.utils.json import dumps

from oauth365.models import M365Connection
from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from users.models import UserCard
from users.secrets import REDACTED, Secret

pytestmark = pytest.mark.django_db

PASSWORD = "Global-Plain-Secret-4711"
USER_PASSWORD = "User-Plain-Secret-0815"
TOKEN_CACHE = json.dumps({"RefreshToken": {"k": {"secret": "refresh-token-plain-9876"}}})


def staff_with(client, *codenames: str):
    """Log in a staff account that holds exactly the given permissions."""
    user = get_user_model().objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def stored_ciphertext(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_secret_str_repr_and_format_are_redacted():
    """str, repr and format of a Secret show a redaction, reveal() the plaintext."""
    secret = Secret(PASSWORD)
    assert PASSWORD not in str(secret)
    assert PASSWORD not in repr(secret)
    assert PASSWORD not in f"{secret}" and PASSWORD not in "%s" % secret  # noqa: UP031
    assert str(secret) == REDACTED
    assert secret.reveal() == PASSWORD
    assert bool(secret) and not Secret("")


def test_secret_refuses_pickling_but_copies():
    """A Secret is never pickled (a cache or a task would store the plaintext)."""
    secret = Secret(PASSWORD)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert copy.deepcopy(secret) is secret


def test_encrypted_field_attribute_is_always_a_secret():
    """Assigned, loaded or selected with values(), a password is a Secret, never a str."""
    card = SmtpCardFactory(smtp_password=USER_PASSWORD)
    assert isinstance(card.smtp_password, Secret)
    card.smtp_password = "typed-now"
    assert isinstance(card.smtp_password, Secret)
    loaded = UserCard.objects.get(pk=card.pk)
    assert isinstance(loaded.smtp_password, Secret)
    assert loaded.smtp_password.reveal() == USER_PASSWORD
    (value,) = UserCard.objects.filter(pk=card.pk).values_list("smtp_password", flat=True)
    assert isinstance(value, Secret)


def test_encrypted_field_template_and_log_show_no_plaintext(caplog):
    """A template or a log line that meets the password prints the redaction."""
    card = SmtpCardFactory(smtp_password=USER_PASSWORD)
    card = UserCard.objects.get(pk=card.pk)
    html = Template("{{ card.smtp_password }}").render(Context({"card": card}))
    assert USER_PASSWORD not in html and REDACTED in html
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("card %s password %s %r", card, card.smtp_password, card)
    assert USER_PASSWORD not in caplog.text


def test_encrypted_field_exception_report_shows_no_plaintext(rf: RequestFactory):
    """Django's error report lists the frame's locals without the decrypted password."""
    card = UserCard.objects.get(pk=SmtpCardFactory(smtp_password=USER_PASSWORD).pk)

    def send(card: UserCard) -> None:
        password = card.smtp_password
        raise RuntimeError(f"could not log in with {password}")

    try:
        send(card)
    except RuntimeError:
        report = ExceptionReporter(rf.get("/"), *sys.exc_info()).get_traceback_text()
    assert USER_PASSWORD not in report


@pytest.mark.parametrize(
    "codenames", [("view_usercard",), ("view_usercard", "view_m365connection")]
)
def test_usercard_admin_view_only_staff_never_sees_a_password(client, codenames):
    """Staff who may only view cards see "set"/"not set", never a password (global card too)."""
    global_card = SmtpCardFactory(code="MAILER", smtp_password=PASSWORD)
    system_settings_set(mail_sending_user_code="MAILER")
    user_card = SmtpCardFactory(code="JAAN", smtp_password=USER_PASSWORD)
    bare = UserCardFactory(code="MARI")
    M365Connection.objects.create(card=user_card, token_cache=TOKEN_CACHE, account="j@x.test")
    staff_with(client, *codenames)
    pages = {}
    for card in (global_card, user_card, bare):
        response = client.get(reverse("admin:users_usercard_change", args=[card.pk]))
        assert response.status_code == 200
        pages[card.code] = response.content.decode()
    if "view_m365connection" in codenames:
        connection_page = client.get(
            reverse("admin:oauth365_m365connection_change", args=[user_card.m365_connection.pk])
        )
        assert connection_page.status_code == 200
        pages["connection"] = connection_page.content.decode()
    everything = "\n".join(pages.values())
    for secret in (PASSWORD, USER_PASSWORD, "refresh-token-plain-9876", REDACTED):
        assert secret not in everything
    for ciphertext in (
        stored_ciphertext("users_usercard", "smtp_password", global_card.pk),
        stored_ciphertext("oauth365_m365connection", "token_cache", user_card.m365_connection.pk),
    ):
        assert ciphertext not in everything
    assert 'name="smtp_password"' not in everything
    assert '<div class="readonly">set</div>' in pages["MAILER"]
    assert '<div class="readonly">not set</div>' in pages["MARI"]


def test_dumpdata_writes_ciphertext_and_loaddata_round_trips(tmp_path):
    """dumpdata carries Fernet tokens only; loading the dump with the same keys restores them."""
    card = SmtpCardFactory(code="JAAN", smtp_password=USER_PASSWORD)
    M365Connection.objects.create(card=card, token_cache=TOKEN_CACHE, account="j@x.test")
    out = io.StringIO()
    call_command("dumpdata", "auth.user", "users.usercard", "oauth365.m365connection", stdout=out)
    dump = out.getvalue()
    assert USER_PASSWORD not in dump and "refresh-token-plain-9876" not in dump
    rows = {row["model"]: row["fields"] for row in json.loads(dump)}
    assert rows["users.usercard"]["smtp_password"].startswith("gAAAAA")
    assert rows["oauth365.m365connection"]["token_cache"].startswith("gAAAAA")

    M365Connection.objects.all().delete()
    UserCard.objects.all().delete()
    get_user_model().objects.all().delete()
    path = tmp_path / "dump.json"
    path.write_text(dump)
    call_command("loaddata", path, verbosity=0)
    loaded = UserCard.objects.get(code="JAAN")
    assert loaded.smtp_password.reveal() == USER_PASSWORD
    assert loaded.m365_connection.token_cache.reveal() == TOKEN_CACHE


def test_secret_never_travels_in_a_task_argument():
    """Celery's JSON serializer cannot carry a Secret: a task argument never holds the plaintext."""
    try:
        payload = dumps({"password": Secret(PASSWORD)})
    except TypeError:
        return
    assert PASSWORD not in payload
