"""Customer letters: one letter mass-mailed to each of a user's customers, in their language."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from customers.models import Customer
from letters.causes import LetterCause
from letters.mailing import customer_recipient_error, letters_mass_mail_start
from massmail.conf import MassMailRefusedError
from massmail.dispatch import Outcome, massmail_inline_run
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from tests.deliverability.test_commands import manage_env
from tests.factories import SmtpCardFactory, UserCardFactory, system_settings_set
from tests.massmail.conftest import PASSWORD, server_card
from tests.users.test_browser import PASSWORD as LOGIN_PASSWORD

pytestmark = pytest.mark.django_db

PAGE = "/personal/letters/"
SUBJECT = "News for {customer}"
BODY = "Dear {customer} <{customer_email}>,\n\nnew prices.\n\n{sender} <{sender_email}>, {company}"


def _parsed(delivery):
    return email.message_from_bytes(delivery.content, policy=email.policy.default)


def _customers(card):
    return [
        Customer.objects.create(
            owner=card, name="Tamm OÜ", email="tamm@example.test", language="et"
        ),
        Customer.objects.create(
            owner=card, name="Kowalski", email="kow@example.test", language="pl"
        ),
        Customer.objects.create(owner=card, name="Smith Ltd", email="smith@example.test"),
    ]


def test_letter_job_mails_each_customer_once_filled_in_their_language(mass_settings, mass_server):
    """Each customer gets one message, placeholders filled, the footer in their language."""
    system_settings_set(company_name="Acme Trading")
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server, name="Kivi Kask")
    _customers(card)
    other = SmtpCardFactory(code="JAAN")
    Customer.objects.create(owner=other, name="Theirs", email="theirs@example.test")
    job = letters_mass_mail_start(card=card, subject=SUBJECT, body=BODY, created_by="test")
    assert job.document_kind == "letter" and job.total == 3
    assert massmail_inline_run(job_id=job.pk, timeout=30) == Outcome.FINISHED
    by_address = {d.rcpt_tos[0]: _parsed(d) for d in server.sink.deliveries}
    assert sorted(by_address) == ["kow@example.test", "smith@example.test", "tamm@example.test"]
    tamm = by_address["tamm@example.test"]
    assert tamm["Subject"] == "News for Tamm OÜ"
    assert tamm["Content-Language"] == "et"
    text = tamm.get_content()
    assert "Dear Tamm OÜ <tamm@example.test>," in text
    assert "Kivi Kask <kivi@acme.test>, Acme Trading" in text
    assert "Saad selle kirja kui ettevõtte Acme Trading klient." in text
    assert "Otrzymujesz ten list jako klient firmy Acme Trading." in (
        by_address["kow@example.test"].get_content()
    )
    assert "You receive this letter as a customer of Acme Trading." in (
        by_address["smith@example.test"].get_content()
    )
    assert set(OutgoingMail.objects.filter(job=job).values_list("status", flat=True)) == {
        MailStatus.SENT
    }


def test_letter_unknown_placeholder_is_refused_naming_it(mass_settings):
    """A placeholder letters do not know refuses the job and the message names it."""
    card = SmtpCardFactory(code="KIVI")
    _customers(card)
    with pytest.raises(MassMailRefusedError) as refused:
        letters_mass_mail_start(card=card, subject="Invoice {number}", body=BODY)
    assert refused.value.cause == LetterCause.TEMPLATE_PLACEHOLDER_UNKNOWN
    assert "{number}" in refused.value.message and "{customer}" in refused.value.message
    assert not MassMailJob.objects.exists()


def test_letter_empty_body_or_no_customers_is_refused(mass_settings):
    """The user writes the letter (no default), and a user without customers is told so."""
    card = SmtpCardFactory(code="KIVI")
    with pytest.raises(MassMailRefusedError) as empty:
        letters_mass_mail_start(card=card, subject="Hello", body="  ")
    assert empty.value.cause == LetterCause.TEMPLATE_EMPTY
    with pytest.raises(MassMailRefusedError) as none:
        letters_mass_mail_start(card=card, subject="Hello", body="Hi {customer}")
    assert none.value.cause == LetterCause.NO_CUSTOMERS and "KIVI" in none.value.message


def test_customer_address_is_unique_per_owner_ignoring_case():
    """One customer per address and user: the same address in other letters' case is refused."""
    card = UserCardFactory(code="KIVI")
    Customer.objects.create(owner=card, name="A", email="Buyer@example.test")
    Customer.objects.create(
        owner=UserCardFactory(code="MARI"), name="A", email="buyer@example.test"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(owner=card, name="B", email="buyer@EXAMPLE.test")


def test_massmail_letters_command_inline_json_counts_and_failed_exit(
    mass_settings, mass_server, tmp_path
):
    """--inline --json prints the counts; an invalid address fails at once and exits 1."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    _customers(card)
    Customer.objects.create(owner=card, name="Broken", email="broken@")
    body = tmp_path / "letter.txt"
    body.write_text(BODY, encoding="utf-8")
    out, err = StringIO(), StringIO()
    args = ["--user", "kivi", "--subject", SUBJECT, "--body-file", str(body), "--inline", "--json"]
    with pytest.raises(CommandError) as failed:
        call_command("massmail_letters", *args, stdout=out, stderr=err)
    assert failed.value.returncode == 1 and "1 failed" in str(failed.value)
    document = json.loads(out.getvalue())
    assert document["status"] == JobStatus.FINISHED
    assert (document["total"], document["sent"], document["failed"]) == (4, 3, 1)
    assert "100%" in err.getvalue()
    assert len(server.sink.deliveries) == 3
    broken = OutgoingMail.objects.get(recipient="broken@")
    assert broken.cause == LetterCause.RECIPIENT_INVALID


def test_massmail_letters_command_refused_exits_nonzero_with_reason(mass_settings, tmp_path):
    """A Directo card is refused, an unknown placeholder is named, a missing file is said."""
    card = UserCardFactory(code="LIIS")
    _customers(card)
    body = tmp_path / "letter.txt"
    body.write_text(BODY, encoding="utf-8")
    args = ["--user", "LIIS", "--subject", SUBJECT, "--body-file", str(body)]
    with pytest.raises(CommandError, match="Mass mailing is allowed only"):
        call_command("massmail_letters", *args, stdout=StringIO())
    smtp = SmtpCardFactory(code="KIVI")
    _customers(smtp)
    args = ["--user", "KIVI", "--subject", "{total}", "--body-file", str(body)]
    with pytest.raises(CommandError, match=r"unknown placeholder \{total\}"):
        call_command("massmail_letters", *args, stdout=StringIO())
    args = ["--user", "KIVI", "--subject", "Hi", "--body-file", str(tmp_path / "none.txt")]
    with pytest.raises(CommandError, match="Cannot read the body file"):
        call_command("massmail_letters", *args, stdout=StringIO())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_massmail_letters_subprocess_wait_json_exits_one(tmp_path):
    """Run as a process: stdout is one JSON document of the counts; a failed row exits 1."""
    card = SmtpCardFactory(code="KIVI")
    Customer.objects.create(owner=card, name="Broken", email="broken@")
    Customer.objects.create(owner=card, name="Empty", email="")
    Customer.objects.create(owner=SmtpCardFactory(code="JAAN"), name="Ok", email="ok@example.test")
    body = tmp_path / "letter.txt"
    body.write_text(BODY, encoding="utf-8")
    done = subprocess.run(
        [
            *(sys.executable, "manage.py", "massmail_letters", "--user", "KIVI"),
            *("--subject", SUBJECT, "--body-file", str(body), "--wait", "--json"),
        ],
        cwd=settings.BASE_DIR,
        env=manage_env(),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert (document["total"], document["sent"], document["failed"]) == (2, 0, 2)
    assert "2 failed" in done.stderr
    recipients = set(OutgoingMail.objects.values_list("recipient", flat=True))
    assert recipients == {"broken@", ""}


def test_letter_page_non_staff_user_sends_to_own_customers_only(client, mass_settings):
    """A non-staff user sees only their customers; sending starts a job and opens its page."""
    card = SmtpCardFactory(code="KIVI")
    assert not card.user.is_staff
    _customers(card)
    Customer.objects.create(owner=SmtpCardFactory(code="JAAN"), name="Theirs", email="t@x.test")
    client.force_login(card.user)
    page = client.get(PAGE).content.decode()
    assert "Tamm OÜ" in page and "smith@example.test" in page and "Theirs" not in page
    assert "{customer_email}" in page and "Send to all my customers" in page
    refused = client.post(PAGE, {"subject": "Bill {number}", "body": BODY})
    assert refused.status_code == 400 and "{number}" in refused.content.decode()
    response = client.post(PAGE, {"subject": SUBJECT, "body": BODY})
    job = MassMailJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/mail/jobs/{job.pk}/"
    assert job.owner == card and job.document_kind == "letter" and job.total == 3
    recipients = set(OutgoingMail.objects.filter(job=job).values_list("recipient", flat=True))
    assert recipients == {"tamm@example.test", "kow@example.test", "smith@example.test"}
    assert client.get(response["Location"]).status_code == 200
    assert SUBJECT in client.get(PAGE).content.decode()


def test_letter_page_in_estonian_shows_translated_texts(client):
    """The page in Estonian shows the translated heading, button and navigation link."""
    card = UserCardFactory(code="MARI", language="et")
    client.force_login(card.user)
    body = client.get(PAGE, headers={"accept-language": "et"}).content.decode()
    assert "Minu kirjad" in body and "Saada kõigile minu klientidele" in body
    assert "Kirjuta kiri" in body
    assert "My letters" not in body and "Send to all my customers" not in body


def test_letter_page_needs_login(client):
    """An anonymous visitor is sent to the login page."""
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_create_demo_customers_adds_customers_in_every_language():
    """The demo command adds N customers of the user, in the four languages, without clashes."""
    card = UserCardFactory(code="KIVI")
    call_command("create_demo_customers", "--user", "kivi", "--count", "4", stdout=StringIO())
    call_command("create_demo_customers", "--user", "KIVI", "--count", "2", stdout=StringIO())
    customers = Customer.objects.filter(owner=card)
    assert customers.count() == 6
    assert set(customers.values_list("language", flat=True)) == {"en", "et", "lv", "pl"}


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_letter_page_in_chromium_as_non_staff_user(chromium_page, live_server, mass_settings):
    """A non-staff user writes the letter in Chromium and lands on the new job's page."""
    card = SmtpCardFactory(code="KIVI")
    card.user.set_password(LOGIN_PASSWORD)
    card.user.save()
    assert not card.user.is_staff
    _customers(card)
    page = chromium_page
    page.goto(f"{live_server.url}/accounts/login/?next={PAGE}")
    page.fill("#id_username", card.user.username)
    page.fill("#id_password", LOGIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(PAGE) + r"$"))
    page.get_by_role("link", name="My letters").wait_for()
    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_label("Body").fill(BODY)
    page.get_by_role("button", name="Send to all my customers").click()
    page.wait_for_url(re.compile(r"/mail/jobs/\d+/$"))
    job = MassMailJob.objects.get()
    assert page.url.endswith(f"/mail/jobs/{job.pk}/")
    assert job.document_kind == "letter" and job.total == 3


@pytest.mark.parametrize(
    ("address", "cause", "params"),
    [
        ("  ", LetterCause.RECIPIENT_MISSING, {"customer": "Tamm OÜ"}),
        (
            "a@example.test; b@example.test",
            LetterCause.RECIPIENT_INVALID,
            {"customer": "Tamm OÜ", "address": "a@example.test; b@example.test"},
        ),
        ("tamm@example.test", None, None),
    ],
)
def test_letter_recipient_error_names_the_customers_address_problem_with_letter_causes(
    address, cause, params
):
    """The customers app's neutral address problem becomes the letters' own cause and text."""
    problem = customer_recipient_error(Customer(name="Tamm OÜ", email=address))
    if cause is None:
        assert problem is None
        return
    assert (problem.cause, problem.params) == (cause, params)
    assert "Tamm OÜ" in problem.user_message
