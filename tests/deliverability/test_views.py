"""The diagnostics panel and the event pages; a DNS failure never blocks saving a card."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from events.models import EventKind, MailEvent
from massmail.models import MassMailJob, OutgoingMail
from tests.factories import InvoiceFactory, UserCardFactory
from users.forms import CARD_FIELDS
from users.models import MailSender

pytestmark = pytest.mark.django_db


def signed_in(client, card, *, staff: bool = False):
    """Sign in as the card's user; staff get the permissions the administrator pages need."""
    if staff:
        card.user.is_staff = True
        card.user.save()
        card.user.user_permissions.set(
            Permission.objects.filter(codename__in=["view_mailevent", "view_usercard"])
        )
    client.force_login(card.user)
    return client


def event(card, **values) -> MailEvent:
    defaults = {
        "card": card,
        "user_code": card.code,
        "kind": EventKind.BOUNCE,
        "cause": "recipient_unknown",
        "message": f"Mail to x@{card.code.lower()}.test bounced.",
        "recipient": f"x@{card.code.lower()}.test",
    }
    return MailEvent.objects.create(**(defaults | values))


def test_diagnostics_own_page_says_directo_fails_and_recommends(client):
    """The user's panel shows SPF fail, DMARC reject, the Google preset and the advice."""
    card = UserCardFactory(code="KIVI", email="kivi@fail.test")
    response = signed_in(client, card).get(reverse("deliverability:diagnostics"))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-spf="fail"' in text
    assert "Choose Directo-Reply-To" in text
    assert "smtp.gmail.com:465" in text
    assert "p=reject" in text
    assert "outbound IPs, for allow-listing" not in text  # the IP list is for administrators


def test_diagnostics_fragment_is_the_panel_alone(client):
    """?fragment=1 returns only the panel, for embedding on the card page."""
    card = UserCardFactory(code="KIVI", email="kivi@pass.test")
    response = signed_in(client, card).get(reverse("deliverability:diagnostics") + "?fragment=1")
    text = response.content.decode()
    assert text.lstrip().startswith("<section")
    assert "<html" not in text
    assert 'data-spf="pass"' in text


def test_diagnostics_of_any_card_is_staff_only_and_lists_platform_ips(client):
    """Administrators see any card's panel with the outbound IPs; other users get 403."""
    UserCardFactory(code="MARI", email="mari@fail.test")
    url = reverse("deliverability:card_diagnostics", args=["mari"])
    user = UserCardFactory(code="USER1")
    assert signed_in(client, user).get(url).status_code == 403
    admin = UserCardFactory(code="ADMIN")
    response = signed_in(client, admin, staff=True).get(url)
    assert response.status_code == 200
    text = response.content.decode()
    assert "outbound IPs, for allow-listing" in text
    assert "2001:db8::25" in text


def test_card_save_works_while_dns_times_out(client, settings, local_dns):
    """With DNS silent, saving the card succeeds and the panel then shows temperror."""
    settings.MAILER_DNS_NAMESERVERS = [local_dns.silent_nameserver]
    card = UserCardFactory(code="KIVI", email="kivi@pass.test", mail_sender=MailSender.DIRECTO)
    data = {name: getattr(card, name) for name in CARD_FIELDS if name != "smtp_password"}
    data = {k: v for k, v in data.items() if v is not False}
    data["email"] = "kivi@slow.test"
    response = signed_in(client, card).post(reverse("personal:card"), data)
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.email == "kivi@slow.test"
    panel = client.get(reverse("deliverability:diagnostics") + "?fragment=1").content.decode()
    assert 'data-spf="temperror"' in panel
    assert "could not be checked just now" in panel


def test_events_own_page_lists_only_own_events(client):
    """A user sees their own events (bounce diagnostic included) and nobody else's."""
    kivi, mari = UserCardFactory(code="KIVI"), UserCardFactory(code="MARI")
    event(kivi, message="Mail to ghost@customer.test bounced: “550 5.1.1 User unknown”.")
    event(mari, recipient="secret@mari.test")
    response = signed_in(client, kivi).get(reverse("deliverability:events"))
    text = response.content.decode()
    assert "550 5.1.1 User unknown" in text
    assert "secret@mari.test" not in text


def test_events_all_filters_by_user_and_cause(client):
    """The administrators' page filters by user code and cause."""
    kivi, mari = UserCardFactory(code="KIVI"), UserCardFactory(code="MARI")
    event(kivi, recipient="a@kivi.test", cause="recipient_unknown")
    event(kivi, recipient="b@kivi.test", cause="mailbox_full")
    event(mari, recipient="c@mari.test", cause="recipient_unknown")
    admin = UserCardFactory(code="ADMIN")
    url = reverse("deliverability:all_events")
    text = signed_in(client, admin, staff=True).get(url).content.decode()
    assert all(r in text for r in ("a@kivi.test", "b@kivi.test", "c@mari.test"))
    text = client.get(url, {"user": "kivi", "cause": "recipient_unknown"}).content.decode()
    assert "a@kivi.test" in text
    assert "b@kivi.test" not in text
    assert "c@mari.test" not in text


def test_events_all_is_staff_only(client):
    """A signed-in user who is not staff gets 403; an anonymous visitor is sent to log in."""
    url = reverse("deliverability:all_events")
    assert client.get(url).status_code == 302
    assert signed_in(client, UserCardFactory(code="KIVI")).get(url).status_code == 403


def test_events_all_filters_by_mass_mail_job(client):
    """The job filter keeps the events whose Message-ID belongs to that job's mail."""
    outgoing, job_model = OutgoingMail, MassMailJob
    kivi = UserCardFactory(code="KIVI")
    jobs = [
        job_model.objects.create(
            owner=kivi, document_kind="invoice", subject_template="s", body_template="b"
        )
    ]
    jobs.append(
        job_model.objects.create(
            owner=kivi, document_kind="invoice", subject_template="s", body_template="b"
        )
    )
    for number, job in enumerate(jobs):
        outgoing.objects.create(
            job=job, document_id=InvoiceFactory(owner=kivi).pk, message_id=f"<{number}@kivi.test>"
        )
        event(kivi, recipient=f"job{number}@customer.test", message_id=f"<{number}@kivi.test>")
    admin = UserCardFactory(code="ADMIN")
    response = signed_in(client, admin, staff=True).get(
        reverse("deliverability:all_events"), {"job": jobs[1].pk}
    )
    text = response.content.decode()
    assert "job1@customer.test" in text
    assert "job0@customer.test" not in text
