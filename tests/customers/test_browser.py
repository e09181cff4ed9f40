"""In Chromium a user without admin rights adds a customer, then a real worker mails them a letter.

A real `celery worker` delivers to a local aiosmtpd server; the pages are driven by their labels
and roles, as a person with a keyboard or a screen reader would find them.
"""

from __future__ import annotations

import email
import email.policy
import re
import time

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from massmail.models import JobStatus, MassMailJob
from tests.massmail.conftest import PASSWORD, server_card, worker_overrides
from tests.users.test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.celery,
    pytest.mark.slow,
    pytest.mark.timeout(180),
]

LIST = "/personal/customers/"


def _finished(job: MassMailJob, workers, timeout: float = 60) -> MassMailJob:
    deadline = time.monotonic() + timeout
    while job.status not in (JobStatus.FINISHED, JobStatus.CANCELLED, JobStatus.PAUSED):
        assert time.monotonic() < deadline, f"job {job.pk} is {job.status}\n{workers.log_tail()}"
        time.sleep(0.2)
        job.refresh_from_db()
    return job


def test_customer_added_in_chromium_receives_the_letter_a_worker_delivers(
    chromium_page, live_server, workers, mass_settings, mass_server
):
    """Add a customer on the page (keyboard submit), mail a letter: it arrives in their language."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server, name="Kivi Kask")
    assert not card.user.is_staff and not card.user.is_superuser
    workers.start(concurrency=1, overrides=worker_overrides(mass_settings))
    page = chromium_page
    log_in(page, live_server, card.user.username, LIST)

    expect(page.get_by_text("You have no customers yet.")).to_be_visible()
    page.get_by_role("link", name="Add a customer").click()
    page.get_by_label("Name").fill("Tamm OÜ")
    page.get_by_label("E-mail address").fill("tamm@example")
    page.get_by_role("combobox", name="Language").select_option(label="Estonian")
    page.get_by_label("E-mail address").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text(
        "“tamm@example” is not a single valid e-mail address."
    )
    assert not Customer.objects.exists()
    page.get_by_label("E-mail address").fill("tamm@example.test")
    page.get_by_label("E-mail address").press("Enter")
    page.wait_for_url(re.compile(re.escape(LIST) + r"$"))
    expect(page.get_by_role("status")).to_contain_text("The customer Tamm OÜ was added.")
    row = page.locator("#customer-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("tamm@example.test")
    expect(row).to_contain_text("Estonian")
    customer = Customer.objects.get()
    assert (customer.owner, customer.language) == (card, "et")

    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="My letters").click()
    expect(page.get_by_role("cell", name="Tamm OÜ")).to_be_visible()
    page.get_by_label("Subject").fill("News for {customer}")
    page.get_by_label("Body").fill("Dear {customer},\n\nnew prices.\n\n{sender}")
    page.get_by_role("button", name="Send to all my customers").click()
    page.wait_for_url(re.compile(r"/mail/jobs/\d+/$"))
    job = _finished(MassMailJob.objects.get(), workers)

    assert (job.status, job.document_kind, job.total, job.sent_count) == (
        JobStatus.FINISHED,
        "letter",
        1,
        1,
    )
    [delivery] = server.sink.deliveries
    message = email.message_from_bytes(delivery.content, policy=email.policy.default)
    assert message["To"] == "tamm@example.test" and message["Subject"] == "News for Tamm OÜ"
    assert message["Content-Language"] == "et"
    assert "Dear Tamm OÜ," in message.get_content() and "Kivi Kask" in message.get_content()
