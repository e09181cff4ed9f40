"""Mass mailing from /personal/invoices/ in Chromium as a non-staff user, with real workers.

A real `celery worker` delivers to a local aiosmtpd server; the pages are watched through their
own conditions (Playwright's `expect` and `wait_for_function`), never through sleeps.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from invoices.documents import DEFAULT_BODY_TEMPLATE, DEFAULT_SUBJECT_TEMPLATE
from invoices.services import invoice_demo_create
from massmail.causes import MassMailCause
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from tests.massmail.conftest import PASSWORD, server_card, worker_overrides
from tests.users.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.celery, pytest.mark.timeout(180)]

LIST = "/personal/invoices/"
JOB_URL = re.compile(r"/mail/jobs/(\d+)/$")
#: Watches the progress bar: every aria-valuenow it shows, in order, from the page's first load.
RECORD_PROGRESS = """() => {
  const bar = document.querySelector('[role=progressbar]');
  window.seenDone = [Number(bar.getAttribute('aria-valuenow'))];
  new MutationObserver(() => window.seenDone.push(Number(bar.getAttribute('aria-valuenow'))))
    .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
}"""


def _count(page: Any, name: str) -> int:
    return int(page.locator(f'.job-progress [data-count="{name}"]').inner_text())


def _wait_for_count(page: Any, name: str, predicate: str) -> None:
    """Wait until the page's count `name` satisfies the JS expression `predicate` (on `n`)."""
    page.wait_for_function(
        f"""() => {{
          const n = Number(document.querySelector('.job-progress [data-count="{name}"]')
            .textContent);
          return {predicate};
        }}"""
    )


def _until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _subjects(server: Any) -> list[str]:
    return sorted(
        email.message_from_bytes(d.content, policy=email.policy.default)["Subject"]
        for d in server.sink.deliveries
    )


def _select(page: Any, invoices: list[Any]) -> None:
    for invoice in invoices:
        page.get_by_label(f"Select invoice {invoice.number}").check()


def test_mass_mail_mail_edit_yes_progress_advances_live_to_finished(
    chromium_page, live_server, workers, mass_settings, mass_server
):
    """Selected invoices, edited template, a worker delivers; the live bar reaches finished."""
    mass_settings.MAILER_DISPATCH_PARALLELISM = 1
    server = mass_server(users={"kivi@acme.test": PASSWORD}, data_delay=0.4)
    card = server_card(server, mail_edit=True)
    assert not card.user.is_staff and not card.user.is_superuser
    invoices = invoice_demo_create(owner_card=card, count=10, seed=31)
    chosen, left = invoices[:8], invoices[8:]
    # Rows are marked sent a group at a time: groups of two let the bar move in steps.
    workers.start(concurrency=1, overrides=worker_overrides(mass_settings, MAILER_TRANSMIT_GROUP=2))
    page = chromium_page
    log_in(page, live_server, card.user.username, LIST)

    _select(page, chosen)
    page.get_by_role("button", name="Mass-mail selected invoices…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit the e-mail before mass-mailing")
    assert not MassMailJob.objects.exists()
    page.get_by_label("Subject").fill("Browser mass {number}")
    page.get_by_role("button", name="Start mass-mailing").click()
    page.wait_for_url(JOB_URL)
    job = MassMailJob.objects.get()
    assert page.url.endswith(f"/mail/jobs/{job.pk}/")
    assert (job.owner, job.total, job.subject_template) == (card, 8, "Browser mass {number}")

    page.evaluate(RECORD_PROGRESS)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    assert page.get_attribute(".job-progress .progress-text", "aria-live") == "polite"
    expect(page.locator('.job-progress [data-field="status"]')).to_have_text(
        "Finished", timeout=60_000
    )
    assert page.evaluate("window.sameDocument") is True
    seen = page.evaluate("window.seenDone")
    assert seen[0] < 8 and seen[-1] == 8
    assert any(0 < done < 8 for done in seen), seen  # moved step by step, not only at the end
    assert seen == sorted(seen)
    assert page.get_attribute("[role=progressbar]", "aria-valuenow") == "8"
    assert _count(page, "sent") == 8 == len(server.sink.deliveries)
    assert _count(page, "failed") == 0
    assert _subjects(server) == sorted(f"Browser mass {i.number}" for i in chosen)
    assert not OutgoingMail.objects.filter(document_id__in=[i.pk for i in left]).exists()
    expect(page.get_by_role("button", name="Pause")).to_be_disabled()
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()

    page.get_by_role("link", name="My jobs").click()
    row = page.locator("tr", has=page.get_by_role("link", name=str(job.pk), exact=True))
    expect(row).to_contain_text("Finished")
    expect(row).to_contain_text("KIVI")


def test_mass_mail_mail_edit_no_starts_without_template_step(
    chromium_page, live_server, workers, mass_settings, mass_server
):
    """With Mail edit = No the button starts the job at once with the default templates."""
    server = mass_server(users={"kivi@acme.test": PASSWORD})
    card = server_card(server, mail_edit=False)
    invoices = invoice_demo_create(owner_card=card, count=3, seed=32)
    page = chromium_page
    log_in(page, live_server, card.user.username, LIST)

    _select(page, invoices[:2])
    page.get_by_role("button", name="Mass-mail selected invoices", exact=True).click()
    page.wait_for_url(JOB_URL)
    job = MassMailJob.objects.get()
    assert page.url.endswith(f"/mail/jobs/{job.pk}/")
    assert job.total == 2
    assert (job.subject_template, job.body_template) == (
        DEFAULT_SUBJECT_TEMPLATE,
        DEFAULT_BODY_TEMPLATE,
    )
    assert page.locator("[name=subject_template]").count() == 0


def test_job_page_pause_resume_cancel_in_chromium(
    chromium_page, live_server, workers, mass_settings, mass_server
):
    """Pause stops the sent count, resume moves it again, cancel ends it; history lists it."""
    mass_settings.MAILER_DISPATCH_PARALLELISM = 1
    server = mass_server(users={"kivi@acme.test": PASSWORD}, data_delay=0.3)
    card = server_card(server, mail_edit=False)
    invoices = invoice_demo_create(owner_card=card, count=40, seed=33)
    workers.start(concurrency=1, overrides=worker_overrides(mass_settings, MAILER_TRANSMIT_GROUP=2))
    page = chromium_page
    log_in(page, live_server, card.user.username, LIST)
    _select(page, invoices)
    page.get_by_role("button", name="Mass-mail selected invoices", exact=True).click()
    page.wait_for_url(JOB_URL)
    job = MassMailJob.objects.get()
    status = page.locator('.job-progress [data-field="status"]')
    _wait_for_count(page, "sent", "n >= 2")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".messages")).to_contain_text(f"Job {job.pk} is paused.")
    expect(status).to_have_text("Paused")
    # What the worker held goes back to the queue; a message in flight still completes.
    _wait_for_count(page, "claimed", "n === 0")
    _wait_for_count(page, "transmitting", "n === 0")
    paused_at = _count(page, "sent")
    assert 2 <= paused_at < 40
    assert len(server.sink.deliveries) == paused_at
    expect(page.get_by_role("button", name="Pause")).to_be_disabled()
    expect(page.get_by_role("button", name="Resume")).to_be_enabled()
    for _ in range(3):  # three more polls of the page: nothing is sent while paused
        with page.expect_response(re.compile(r"/progress/$")):
            pass
    assert _count(page, "sent") == paused_at == len(server.sink.deliveries)

    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".messages")).to_contain_text(f"Job {job.pk} is resumed.")
    _wait_for_count(page, "sent", f"n > {paused_at}")
    assert status.inner_text() in ("Running", "Queued")

    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".messages")).to_contain_text(f"Job {job.pk} is cancelled.")
    expect(status).to_have_text("Cancelled")
    _until(
        lambda: (
            not OutgoingMail.objects.filter(
                job=job, status__in=(MailStatus.CLAIMED, MailStatus.TRANSMITTING)
            ).exists()
        ),
        "the message in flight at the cancel",
    )
    page.reload()
    sent = _count(page, "sent")
    assert paused_at < sent < 40
    assert sent == len(server.sink.deliveries)
    assert _count(page, "failed") == 40 - sent
    assert _count(page, "queued") == 0
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert OutgoingMail.objects.filter(job=job, cause=MassMailCause.CANCELLED).count() == 40 - sent
    expect(page.get_by_role("button", name="Resume")).to_be_disabled()

    page.get_by_role("link", name="My jobs").click()
    row = page.locator("tr", has=page.get_by_role("link", name=str(job.pk), exact=True))
    expect(row).to_contain_text("Cancelled")


def test_letter_mass_mail_worker_delivers_to_each_own_customer_live(
    chromium_page, live_server, workers, mass_settings, mass_server
):
    """A letter written on /personal/letters/ reaches each own customer once, live to finished."""
    server = mass_server(users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    other = server_card(server, code="JAAN", email="jaan@acme.test")
    for code in (card.code, other.code):
        call_command("create_demo_customers", "--user", code, "--count", "4", stdout=StringIO())
    workers.start(concurrency=1, overrides=worker_overrides(mass_settings))
    page = chromium_page
    log_in(page, live_server, card.user.username, "/personal/letters/")

    page.get_by_label("Subject").fill("News for {customer}")
    page.get_by_label("Body").fill("Dear {customer},\n\nnew prices.\n\n{sender}")
    page.get_by_role("button", name="Send to all my customers").click()
    page.wait_for_url(JOB_URL)
    job = MassMailJob.objects.get()
    assert (job.owner, job.document_kind, job.total) == (card, "letter", 4)
    page.evaluate("window.sameDocument = true")
    expect(page.locator('.job-progress [data-field="status"]')).to_have_text(
        "Finished", timeout=60_000
    )
    assert page.evaluate("window.sameDocument") is True
    assert _count(page, "sent") == 4 == len(server.sink.deliveries)
    delivered = sorted(d.rcpt_tos[0] for d in server.sink.deliveries)
    assert delivered == [f"customer{n}.kivi@example.test" for n in range(1, 5)]
    assert all(subject.startswith("News for ") for subject in _subjects(server))
    assert "{customer}" not in "".join(_subjects(server))

    page.get_by_role("link", name="My letters").click()
    expect(page.get_by_text("News for {customer}")).to_be_visible()


def test_job_page_in_estonian_stays_estonian_while_polling(
    chromium_page, live_server, workers, mass_settings, mass_server
):
    """On an Estonian card the job page's status and controls stay Estonian after each poll."""
    server = mass_server(users={"kivi@acme.test": PASSWORD})
    card = server_card(server, mail_edit=False, language="et")
    invoices = invoice_demo_create(owner_card=card, count=2, seed=34)
    with translation.override("et"):
        queued, cancelled, cancel = gettext("Queued"), gettext("Cancelled"), gettext("Cancel")
    assert (queued, cancelled) != ("Queued", "Cancelled")
    page = chromium_page
    log_in(page, live_server, card.user.username, LIST)
    for invoice in invoices:
        page.check(f"#select-{invoice.pk}")
    page.locator("button[form=mass-mail-form]").click()
    page.wait_for_url(JOB_URL)
    status = page.locator('.job-progress [data-field="status"]')
    with page.expect_response(re.compile(r"/progress/$")):
        pass
    expect(status).to_have_text(queued)  # no worker runs: the job waits
    page.get_by_role("button", name=cancel, exact=True).click()
    expect(status).to_have_text(cancelled)
    with page.expect_response(re.compile(r"/progress/$")):
        pass
    expect(status).to_have_text(cancelled)
    assert page.locator("html").get_attribute("lang") == "et"
