"""axe-core on every page an end user reaches: no serious or critical violation (Chromium).

One module for the pages of every app: the question is the same for each page (does axe find a
serious or critical violation?), and so are the non-staff user, the sign-in and the reading of
axe's answer (tests/browser.py `axe_serious`). Each app's own behaviour stays in its tests.
"""

from __future__ import annotations

import re

import pytest

from customers.models import Customer
from events.models import EventKind
from events.services import event_record
from invoices.causes import InvoiceCause
from mailer.causes import MailCause
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from tests.browser import axe_serious, tab_to
from tests.factories import InvoiceFactory, SmtpCardFactory
from tests.users.test_browser import log_in
from users.models import MailSender, SslTls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARD = "/personal/user/"
INVOICES = "/personal/invoices/"
LETTERS = "/personal/letters/"
JOBS = "/mail/jobs/"
CUSTOMERS = "/personal/customers/"
EVENTS = "/deliverability/events/"


def _end_user(**values):
    card = SmtpCardFactory(code="MARI", **values)
    assert not card.user.is_staff
    return card


def _quiet(page) -> None:
    """Wait until the page's own requests (preview, diagnostics) have answered."""
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("[aria-busy=true]", state="detached")


def _job(card, *, status: str, kind: str = "invoice", documents=(1, 2, 3)) -> MassMailJob:
    """A job of three rows: a finished one sent two and failed one, a running one sent one."""
    job = MassMailJob.objects.create(
        owner=card, document_kind=kind, status=status, total=3, subject_template="Hello"
    )
    statuses = (
        [MailStatus.SENT, MailStatus.FAILED, MailStatus.SENT]
        if status == JobStatus.FINISHED
        else [MailStatus.SENT, MailStatus.QUEUED, MailStatus.QUEUED]
    )
    for index, (document_id, mail_status) in enumerate(zip(documents, statuses, strict=True)):
        failed = mail_status == MailStatus.FAILED
        OutgoingMail.objects.create(
            job=job,
            document_id=document_id,
            document_label=f"Invoice T-{index} to Põhja Puit OÜ",
            recipient="broken@" if failed else f"buyer{index}@example.test",
            message_id=f"<{job.pk}.{index}@x>",
            status=mail_status,
            cause=InvoiceCause.RECIPIENT_INVALID if failed else "",
            params={"number": f"T-{index}", "address": "broken@"} if failed else {},
        )
    return job


def test_login_page_has_no_serious_axe_violation(chromium_page, live_server):
    """The sign-in page passes axe-core without a serious or critical violation."""
    page = chromium_page
    page.goto(f"{live_server.url}/accounts/login/")
    assert axe_serious(page) == []


@pytest.mark.parametrize(
    ("sender", "shown"),
    [
        (MailSender.DIRECTO, "[data-mode=directo]"),
        (MailSender.SMTP, ".provider-guide"),
        (MailSender.M365_OAUTH, "[data-m365-connect] button[type=submit]"),
        (MailSender.DIRECTO_REPLY_TO, "[data-mode=directo_reply_to]"),
    ],
)
def test_card_page_has_no_serious_axe_violation_in_each_mode(
    chromium_page, live_server, sender, shown
):
    """Personal → User passes axe in every mail sender mode, with its own parts shown."""
    _end_user(mail_sender=sender)
    page = chromium_page
    log_in(page, live_server, "MARI", CARD)
    _quiet(page)
    assert page.locator(shown).first.is_visible()
    if sender == MailSender.SMTP:
        page.locator("details[data-provider=google] summary").click()
    assert axe_serious(page) == []


def test_card_page_errors_and_messages_have_no_serious_axe_violation(chromium_page, live_server):
    """The card form with field errors, then saved with its messages, passes axe."""
    _end_user()
    page = chromium_page
    log_in(page, live_server, "MARI", CARD)
    page.fill("#id_email", "not-an-address")
    page.fill("#id_mail_server", "")
    with page.expect_navigation():
        page.click("button[type=submit].button-primary")
    _quiet(page)
    assert page.locator(".has-errors").count() >= 1
    assert axe_serious(page) == []
    page.fill("#id_email", "mari@example.test")
    page.fill("#id_mail_server", "smtp.zone.eu:465")
    with page.expect_navigation():
        page.click("button[type=submit].button-primary")
    _quiet(page)
    assert page.locator(".messages li").count() >= 2
    assert axe_serious(page) == []


def test_card_page_test_mail_result_has_no_serious_axe_violation(chromium_page, live_server):
    """The test e-mail's failed result, shown in place, passes axe."""
    # Port 9 on loopback refuses at once: the result is a failure with its transcript.
    _end_user(mail_server="127.0.0.1:9", ssl_tls=SslTls.NO)
    page = chromium_page
    log_in(page, live_server, "MARI", CARD)
    page.locator("[data-test-mail-submit]").click()
    page.wait_for_selector("[data-test-mail-result] .test-mail-failed")
    _quiet(page)
    assert axe_serious(page) == []


def test_card_page_in_estonian_has_no_serious_axe_violation(chromium_page, live_server):
    """The Estonian card page keeps lang="et" and passes axe."""
    _end_user(language="et")
    page = chromium_page
    log_in(page, live_server, "MARI", CARD)
    _quiet(page)
    assert page.get_attribute("html", "lang") == "et"
    assert page.locator("h1").inner_text() == "Isiklik → Kasutaja"
    assert axe_serious(page) == []


def _invoices_with_statuses(card) -> None:
    """Four invoices of the card: A-0 and A-2 sent, A-1 failed, A-3 not mailed."""
    invoices = [InvoiceFactory(owner=card, number=f"A-{n}") for n in range(4)]
    _job(card, status=JobStatus.FINISHED, documents=[invoice.pk for invoice in invoices[:3]])


@pytest.mark.parametrize("mail_edit", [True, False])
def test_invoice_page_has_no_serious_axe_violation(chromium_page, live_server, mail_edit):
    """My invoices with a sent, a failed and an unmailed invoice passes axe (Mail edit Yes/No)."""
    card = _end_user(mail_edit=mail_edit)
    _invoices_with_statuses(card)
    page = chromium_page
    log_in(page, live_server, "MARI", INVOICES)
    assert page.locator(".mail-status-failed").count() == 1
    # Undecided too: a Send button in an inline form overlapped its cell and hid its contrast.
    assert axe_serious(page, undecided=True) == []


def test_invoice_draft_and_mass_mail_step_have_no_serious_axe_violation(chromium_page, live_server):
    """The send-one draft and the mass-mail template step (Mail edit = Yes) pass axe."""
    card = _end_user(mail_edit=True)
    _invoices_with_statuses(card)
    page = chromium_page
    log_in(page, live_server, "MARI", INVOICES)
    page.get_by_role("link", name="Send invoice A-1…").click()
    page.wait_for_url(re.compile(r"/draft/$"))
    assert axe_serious(page) == []
    page.goto(f"{live_server.url}{INVOICES}")
    page.get_by_label("Select invoice A-0").check()
    page.get_by_label("Select invoice A-1").check()
    page.get_by_role("button", name="Mass-mail selected invoices…").click()
    page.get_by_role("button", name="Start mass-mailing").wait_for()
    assert axe_serious(page) == []


def test_letter_page_has_no_serious_axe_violation(chromium_page, live_server):
    """My letters with customers and an earlier letter passes axe."""
    card = _end_user()
    Customer.objects.create(owner=card, name="Tamm OÜ", email="tamm@example.test", language="et")
    Customer.objects.create(owner=card, name="Smith Ltd", email="smith@example.test")
    _job(card, status=JobStatus.FINISHED, kind="letter")
    page = chromium_page
    log_in(page, live_server, "MARI", LETTERS)
    assert page.locator(".letter-history li").count() == 1
    assert axe_serious(page) == []


def test_job_pages_have_no_serious_axe_violation(chromium_page, live_server):
    """The job list and a running, a paused (with its reason) and a finished job pass axe."""
    card = _end_user()
    running = _job(card, status=JobStatus.RUNNING)
    paused = _job(card, status=JobStatus.PAUSED)
    MassMailJob.objects.filter(pk=paused.pk).update(status_reason="Paused by the user.")
    finished = _job(card, status=JobStatus.FINISHED)
    page = chromium_page
    log_in(page, live_server, "MARI", JOBS)
    assert axe_serious(page) == []
    for job in (running, paused, finished):
        page.goto(f"{live_server.url}/mail/jobs/{job.pk}/")
        page.wait_for_selector(".progress[aria-valuenow]")
        page.locator("[data-count=sent]").wait_for()
        assert axe_serious(page) == [], job.status


def test_job_page_status_filter_works_from_the_keyboard(chromium_page, live_server):
    """Arrowing through the status filter keeps the page; Tab to Show and Enter filters the rows."""
    card = _end_user()
    job = _job(card, status=JobStatus.FINISHED)
    page = chromium_page
    log_in(page, live_server, "MARI", f"/mail/jobs/{job.pk}/")
    tab_to(page, ".status-filter select")
    for _ in range(len(MailStatus.values)):
        if page.input_value(".status-filter select") == MailStatus.FAILED:
            break
        page.keyboard.press("ArrowDown")
    assert page.input_value(".status-filter select") == MailStatus.FAILED
    assert page.url.endswith(f"/mail/jobs/{job.pk}/")
    tab_to(page, ".status-filter button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("?status=failed")
    assert page.locator(".job-table tbody tr").count() == 1
    assert page.locator(".job-table tbody tr.mail-failed").count() == 1


def test_mail_events_page_has_no_serious_axe_violation(chromium_page, live_server):
    """My mail events with a long failure passes axe, its contrast decided for every cell."""
    card = _end_user()
    params = {"host": "smtp.very-long-provider-name.example.test", "port": 587}
    event_record(
        card=card,
        kind=EventKind.SEND_FAILED,
        cause=MailCause.CONNECTION_REFUSED,
        message=MailCause.CONNECTION_REFUSED.render(params),
        params=params,
        recipient="a-rather-long-customer-address@accounts.example.test",
        message_id="<20261201094500.1234567890.abcdefghijklmnop@directo-mail.example.test>",
    )
    page = chromium_page
    log_in(page, live_server, "MARI", EVENTS)
    assert page.locator(".events-table .event").count() == 1
    assert axe_serious(page, undecided=True) == []


def test_customer_pages_have_no_serious_axe_violation(chromium_page, live_server):
    """My customers, its add form with an error, the edit form and the delete question pass axe."""
    card = _end_user()
    customer = Customer.objects.create(
        owner=card, name="Tamm OÜ", email="tamm@example.test", language="et"
    )
    page = chromium_page
    log_in(page, live_server, "MARI", CUSTOMERS)
    assert page.locator(f"#customer-{customer.pk}").count() == 1
    assert axe_serious(page) == []
    page.goto(f"{live_server.url}{CUSTOMERS}add/")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector("main [role=alert]")
    assert axe_serious(page) == []
    for path in (f"{customer.pk}/", f"{customer.pk}/delete/"):
        page.goto(f"{live_server.url}{CUSTOMERS}{path}")
        assert axe_serious(page) == [], path


def test_axe_serious_reports_rule_impact_and_target(chromium_page, live_server):
    """The helper names the rule, its impact and the failing node's selector."""
    page = chromium_page
    page.set_content(
        '<html lang="en"><head><title>T</title></head>'
        '<body><main><input id="nameless"></main></body></html>'
    )
    [line] = axe_serious(page)
    assert line.startswith("violations label (critical):") and "#nameless" in line
