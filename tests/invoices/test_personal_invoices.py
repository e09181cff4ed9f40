"""The user's own invoices at /personal/invoices/: status, send one, draft, mass mailing."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from django.urls import reverse

from invoices.causes import InvoiceCause
from massmail.dispatch import Outcome, massmail_inline_run
from massmail.models import MailStatus, MassMailJob, OutgoingMail
from tests.browser import tab_to
from tests.factories import (
    SERVER_CARD_PASSWORD,
    InvoiceFactory,
    SmtpCardFactory,
    UserCardFactory,
    server_card,
)
from tests.massmail.conftest import PASSWORD as MASS_PASSWORD
from tests.massmail.conftest import mass_server, mass_settings, redis_url  # noqa: F401
from tests.massmail.conftest import server_card as mass_server_card
from tests.users.test_browser import PASSWORD as LOGIN_PASSWORD
from tests.users.test_browser import log_in

pytestmark = pytest.mark.django_db

LIST = "/personal/invoices/"


def _parsed(delivery):
    return email.message_from_bytes(delivery.content, policy=email.policy.default)


def _card(smtp_server, **values):
    server = smtp_server(users={"kivi@acme.test": SERVER_CARD_PASSWORD}, by_address=True)
    card = server_card(server, mail_as_attachment="no", **values)
    return server, card


def test_invoice_list_shows_only_own_invoices_with_status_and_cause(client):
    """The page lists the user's own invoices, each with its latest status and a failure's cause."""
    card = UserCardFactory(code="MARI")
    sent = InvoiceFactory(owner=card, number="M-1")
    failed = InvoiceFactory(owner=card, number="M-2", customer_email="broken@")
    InvoiceFactory(owner=UserCardFactory(code="JAAN"), number="J-1")
    job = MassMailJob.objects.create(owner=card, document_kind="invoice", total=2)
    OutgoingMail.objects.create(
        job=job, document_id=sent.pk, message_id="<a@x>", status=MailStatus.SENT
    )
    OutgoingMail.objects.create(
        job=job,
        document_id=failed.pk,
        message_id="<b@x>",
        status=MailStatus.FAILED,
        cause=InvoiceCause.RECIPIENT_INVALID,
        params={"number": "M-2", "address": "broken@"},
    )
    client.force_login(card.user)
    body = client.get(LIST).content.decode()
    assert "M-1" in body and "M-2" in body and "J-1" not in body
    assert 'class="mail-status-sent"' in body and 'class="mail-status-failed"' in body
    assert "is not a valid e-mail address" in body
    assert "<caption>" in body and 'aria-live="polite"' in body
    assert f'for="select-{sent.pk}"' in body
    assert reverse("massmail:job", args=[job.pk]) in body


def test_invoice_send_and_draft_of_another_users_invoice_is_404(client):
    """Another user's invoice id gives a 404 for the draft, the send and the mass mailing."""
    mine = UserCardFactory(code="MARI", mail_edit=True)
    theirs = InvoiceFactory(owner=UserCardFactory(code="JAAN"))
    client.force_login(mine.user)
    assert client.get(reverse("invoices:draft", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("invoices:send", args=[theirs.pk])).status_code == 404
    response = client.post(reverse("invoices:mass_mail"), {"invoice": [theirs.pk]})
    assert response.status_code == 404
    assert not OutgoingMail.objects.exists()


def test_invoice_send_mail_edit_no_sends_at_once(client, smtp_server):
    """With Mail edit = No, "Send" mails the invoice at once and the page shows it sent."""
    server, card = _card(smtp_server, mail_edit=False)
    invoice = InvoiceFactory(owner=card, number="K-7", customer_email="buyer@example.test")
    client.force_login(card.user)
    response = client.post(reverse("invoices:send", args=[invoice.pk]))
    assert response.status_code == 302 and response["Location"] == LIST
    [delivery] = server.sink.deliveries
    assert delivery.rcpt_tos == ("buyer@example.test",)
    assert "K-7" in _parsed(delivery)["Subject"]
    row = OutgoingMail.objects.get(document_id=invoice.pk)
    assert row.status == MailStatus.SENT and row.job.owner == card
    assert 'class="mail-status-sent"' in client.get(LIST).content.decode()


def test_invoice_send_mail_edit_yes_sends_the_edited_draft(client, smtp_server):
    """With Mail edit = Yes a draft opens first; the edited subject and recipient are what goes."""
    server, card = _card(smtp_server, mail_edit=True)
    invoice = InvoiceFactory(owner=card, number="K-8", customer_email="buyer@example.test")
    client.force_login(card.user)
    page = client.get(LIST).content.decode()
    assert reverse("invoices:draft", args=[invoice.pk]) in page
    draft = client.get(reverse("invoices:draft", args=[invoice.pk])).content.decode()
    assert 'value="buyer@example.test"' in draft and "Invoice {number} from {company}" in draft
    assert not server.sink.deliveries
    response = client.post(
        reverse("invoices:send", args=[invoice.pk]),
        {
            "recipient": "accounts@example.test",
            "subject_template": "Your bill {number}",
            "body_template": "Hello {customer}",
        },
    )
    assert response.status_code == 302
    [delivery] = server.sink.deliveries
    assert delivery.rcpt_tos == ("accounts@example.test",)
    assert _parsed(delivery)["Subject"] == "Your bill K-8"
    invoice.refresh_from_db()
    assert invoice.customer_email == "buyer@example.test"


def test_invoice_send_draft_refuses_a_recipient_with_a_line_break(client, smtp_server):
    """A drafted recipient with CR/LF is refused in the form and nothing is sent."""
    server, card = _card(smtp_server, mail_edit=True)
    invoice = InvoiceFactory(owner=card)
    client.force_login(card.user)
    response = client.post(
        reverse("invoices:send", args=[invoice.pk]),
        {
            "recipient": "a@example.test\r\nBcc: b@example.test",
            "subject_template": "S",
            "body_template": "B",
        },
    )
    assert response.status_code == 400
    assert "must be on one line" in response.content.decode()
    assert not server.sink.deliveries and not OutgoingMail.objects.exists()


def test_invoice_send_failure_shows_the_cause(client, smtp_server):
    """A refused send is recorded as failed and the list shows why."""
    server, card = _card(smtp_server, mail_edit=False)
    server.sink.plan["DATA"] = ["554 5.7.1 Message rejected as spam"]
    invoice = InvoiceFactory(owner=card, number="K-9")
    client.force_login(card.user)
    client.post(reverse("invoices:send", args=[invoice.pk]))
    row = OutgoingMail.objects.get(document_id=invoice.pk)
    assert row.status == MailStatus.FAILED and row.cause
    body = client.get(LIST).content.decode()
    assert 'class="mail-status-failed"' in body and row.text in body


def test_invoices_mass_mail_starts_one_job_and_opens_its_page(client, mass_settings, mass_server):  # noqa: F811
    """Selecting many (Mail edit = Yes: templates first) starts one job and redirects to it."""
    server = mass_server(users={"kivi@acme.test": MASS_PASSWORD})
    card = mass_server_card(server, mail_edit=True)
    invoices = [InvoiceFactory(owner=card) for _ in range(3)]
    ids = [invoice.pk for invoice in invoices]
    client.force_login(card.user)
    edit = client.post(reverse("invoices:mass_mail"), {"invoice": ids})
    assert edit.status_code == 200 and 'name="subject_template"' in edit.content.decode()
    assert not MassMailJob.objects.exists()
    response = client.post(
        reverse("invoices:mass_mail"),
        {"invoice": ids, "apply": "1", "subject_template": "Bill {number}", "body_template": "Hi"},
    )
    job = MassMailJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("massmail:job", args=[job.pk])
    assert job.total == 3 and job.owner == card
    assert massmail_inline_run(job_id=job.pk, timeout=30) == Outcome.FINISHED
    subjects = sorted(_parsed(d)["Subject"] for d in server.sink.deliveries)
    assert subjects == sorted(f"Bill {invoice.number}" for invoice in invoices)


def test_invoice_list_in_estonian_shows_translated_texts(client):
    """The page in Estonian shows the translated heading, caption and navigation."""
    card = UserCardFactory(code="MARI", language="et")
    InvoiceFactory(owner=card)
    client.force_login(card.user)
    body = client.get(LIST, headers={"accept-language": "et"}).content.decode()
    assert "Minu arved" in body
    assert "My invoices" not in body and "Mail status" not in body


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_invoice_send_one_in_chromium_as_non_staff_user(chromium_page, live_server, smtp_server):
    """A non-staff user opens the draft, edits the subject and sends; the list shows it sent."""
    server, card = _card(smtp_server, mail_edit=True)
    card.user.set_password(LOGIN_PASSWORD)
    card.user.save()
    assert not card.user.is_staff
    invoice = InvoiceFactory(owner=card, number="B-1", customer_email="buyer@example.test")
    page = chromium_page
    page.goto(f"{live_server.url}/accounts/login/?next={LIST}")
    page.fill("#id_username", card.user.username)
    page.fill("#id_password", LOGIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(LIST) + r"$"))
    page.get_by_role("link", name="Send invoice B-1…").click()
    page.get_by_label("Subject").fill("Browser bill {number}")
    page.get_by_role("button", name="Send now").click()
    page.wait_for_url(re.compile(re.escape(LIST) + r"$"))
    assert "was sent to buyer@example.test" in page.locator(".messages").inner_text()
    assert page.locator(f"#invoice-{invoice.pk} .mail-status-sent").count() == 1
    [delivery] = server.sink.deliveries
    assert _parsed(delivery)["Subject"] == "Browser bill B-1"


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_invoices_mass_mail_with_the_keyboard_only(chromium_page, live_server, mass_settings):  # noqa: F811
    """Tab and Space select two invoices; Enter starts the mass mailing via the template step."""
    card = SmtpCardFactory(code="MARI", mail_edit=True)
    first, _skipped, third = (InvoiceFactory(owner=card, number=f"K-{n}") for n in range(3))
    page = chromium_page
    log_in(page, live_server, "MARI", LIST)
    for invoice in (first, third):
        tab_to(page, f"#select-{invoice.pk}")
        page.keyboard.press("Space")
    assert page.is_checked(f"#select-{first.pk}") and page.is_checked(f"#select-{third.pk}")
    tab_to(page, "button[form=mass-mail-form]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "#id_subject_template")
    page.keyboard.press("End")
    page.keyboard.type(" (keyboard)")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/mail/jobs/\d+/$"))
    job = MassMailJob.objects.get()
    assert job.owner == card and job.total == 2
    assert job.subject_template.endswith(" (keyboard)")
    assert set(OutgoingMail.objects.values_list("document_id", flat=True)) == {first.pk, third.pk}
