"""Mass mailing on the one error model: refusals and row outcomes keep cause + params."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.errors import cause_render, causes_registered
from events.models import EventKind, MailEvent
from invoices.causes import InvoiceCause
from invoices.mailing import invoices_mass_mail_start
from invoices.services import invoice_demo_create
from mailer.causes import MailCause
from mailer.services import sender_config_get
from massmail.causes import MassMailCause
from massmail.conf import MassMailRefusedError, mass_mail_refusal
from massmail.dispatch import massmail_claim, massmail_inline_run
from massmail.jobs import massmail_job_cancel
from massmail.models import JobStatus, MailStatus, MassMailJob, OutgoingMail
from massmail.reaper import massmail_reap
from tests.factories import UserCardFactory
from tests.massmail.conftest import PASSWORD, server_card

pytestmark = pytest.mark.django_db


def _renders_again(cause: str, params: dict, text: str) -> None:
    assert params and cause_render(cause, params, fallback="FALLBACK") == text


def test_cause_register_massmail_and_invoice_causes():
    """Mass mailing and invoices register their cause enums from AppConfig.ready()."""
    assert set(MassMailCause) | set(InvoiceCause) <= set(causes_registered())


def test_mass_mail_refusal_not_allowed_renders_from_cause_and_params(mass_settings):
    """A refused job's text is its cause rendered from its parameters, as the resolver says it."""
    card = UserCardFactory(code="DIR")
    invoices = invoice_demo_create(owner_card=card, count=1, seed=1)
    with pytest.raises(MassMailRefusedError) as refused:
        invoices_mass_mail_start(card=card, invoice_ids=[invoices[0].pk])
    error = refused.value
    assert error.cause is MassMailCause.MASS_MAIL_NOT_ALLOWED and error.params["code"] == "DIR"
    assert error.message == sender_config_get(card=card).mass_mail_refusal()
    _renders_again(error.cause, dict(error.params), error.message)


def test_mass_mail_refusal_incomplete_settings_reuses_the_mail_cause(mass_settings, mass_server):
    """Incomplete settings refuse with MailCause.SETTINGS_INCOMPLETE and the resolver's text."""
    card = server_card(mass_server())
    card.smtp_password = ""
    card.save()
    config = sender_config_get(card=card)
    refusal = mass_mail_refusal(config)
    assert refusal is not None and refusal.cause is MailCause.SETTINGS_INCOMPLETE
    assert refusal.message == config.mass_mail_refusal()


@pytest.mark.parametrize(
    ("kwargs", "cause"),
    [
        ({"subject_template": "{nope}"}, InvoiceCause.TEMPLATE_PLACEHOLDER_UNKNOWN),
        ({"body_template": "{number!r}"}, InvoiceCause.TEMPLATE_PLACEHOLDER_FORMATTED),
        ({"body_template": "Unbalanced { brace"}, InvoiceCause.TEMPLATE_INVALID),
    ],
)
def test_mass_mail_refusal_of_a_template_keeps_the_invoice_cause(
    mass_settings, mass_server, kwargs, cause
):
    """A bad template refuses the job with the invoice cause; its text renders again."""
    card = server_card(mass_server())
    invoice = invoice_demo_create(owner_card=card, count=1, seed=3)[0]
    with pytest.raises(MassMailRefusedError) as refused:
        invoices_mass_mail_start(card=card, invoice_ids=[invoice.pk], **kwargs)
    assert refused.value.cause is cause
    _renders_again(cause, dict(refused.value.params), refused.value.message)


def test_mass_mail_refusal_no_invoices_names_the_card(mass_settings, mass_server):
    """Nothing to mail refuses with the kind's own cause (no_invoices) naming the card."""
    card = server_card(mass_server())
    with pytest.raises(MassMailRefusedError) as refused:
        invoices_mass_mail_start(card=card, all_unsent=True)
    assert refused.value.cause is InvoiceCause.NO_INVOICES
    assert refused.value.message == f"There are no invoices to mail for {card.code}."


def test_outgoing_mail_text_of_invalid_recipient_and_cancel(mass_settings, mass_server):
    """Rows failed at creation and by a cancel store cause + params and show the same text."""
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=2, seed=4)
    invoices[1].customer_email = "broken@"
    invoices[1].save()
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])
    bad = OutgoingMail.objects.get(job=job, status=MailStatus.FAILED)
    assert bad.cause == InvoiceCause.RECIPIENT_INVALID
    assert bad.params == {"number": invoices[1].number, "address": "broken@"}
    assert bad.text == bad.user_message and "is not a valid e-mail address" in bad.text
    _renders_again(bad.cause, bad.params, bad.user_message)
    assert massmail_job_cancel(job=job)
    cancelled = OutgoingMail.objects.get(job=job, cause=MassMailCause.CANCELLED)
    assert cancelled.text == cancelled.user_message == MassMailCause.CANCELLED.template


def test_outgoing_mail_text_of_a_refused_recipient_equals_its_event(mass_settings, mass_server):
    """A 550 row keeps the SMTP cause's params; the row and its event render the same text."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD})
    card = server_card(server)
    invoices = invoice_demo_create(owner_card=card, count=2, seed=5)
    job = invoices_mass_mail_start(card=card, invoice_ids=[i.pk for i in invoices])
    bad = OutgoingMail.objects.filter(job=job).order_by("id").first()
    server.sink.rcpt_replies[bad.recipient] = "550 5.1.1 No such user here"
    massmail_inline_run(job_id=job.pk, timeout=30)
    bad.refresh_from_db()
    event = MailEvent.objects.get(card=card, recipient=bad.recipient)
    assert bad.cause == event.cause == MailCause.RECIPIENT_REFUSED
    assert bad.params["smtp_code"] == 550 and bad.params == event.params
    assert bad.text == bad.user_message == event.text == event.message
    # Stored text is only the fallback: the page shows what the cause renders now.
    OutgoingMail.objects.filter(pk=bad.pk).update(user_message="stale")
    client_row = OutgoingMail.objects.get(pk=bad.pk)
    assert client_row.text == event.message


def test_outgoing_mail_text_falls_back_without_params():
    """A row stored without parameters (older rows, bounces) shows its stored text."""
    row = OutgoingMail(cause=MailCause.OUTCOME_UNKNOWN, user_message="as stored")
    assert row.text == "as stored"
    assert OutgoingMail(cause="no_such_cause", params={"a": 1}, user_message="kept").text == "kept"


def test_reaper_unknown_row_and_event_render_the_worker_lost_cause(mass_settings, mass_server):
    """A reaped transmitting row and its event carry worker_lost and its text."""
    job = invoices_mass_mail_start(
        card=(card := server_card(mass_server())),
        invoice_ids=[i.pk for i in invoice_demo_create(owner_card=card, count=1, seed=6)],
    )
    MassMailJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    [row] = massmail_claim(job_id=job.pk, worker="dead", limit=1, lease=60)
    OutgoingMail.objects.filter(pk=row.id).update(
        status=MailStatus.TRANSMITTING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    massmail_reap()
    lost = OutgoingMail.objects.get(pk=row.id)
    event = MailEvent.objects.get(kind=EventKind.SEND_UNKNOWN)
    assert lost.status == MailStatus.UNKNOWN and lost.cause == event.cause == "worker_lost"
    assert lost.text == event.text == MassMailCause.WORKER_LOST.template


def test_job_page_shows_the_text_rendered_from_cause_and_params(client, mass_settings, mass_server):
    """The job page renders a row's cause and parameters, not the text stored with it."""
    card = server_card(mass_server())
    invoices = invoice_demo_create(owner_card=card, count=1, seed=7)
    invoices[0].customer_email = "broken@"
    invoices[0].save()
    job = invoices_mass_mail_start(card=card, invoice_ids=[invoices[0].pk])
    OutgoingMail.objects.filter(job=job).update(user_message="stale text")
    client.force_login(card.user)
    body = client.get(reverse("massmail:job", args=[job.pk])).content.decode()
    assert "is not a valid e-mail address" in body and "stale text" not in body
