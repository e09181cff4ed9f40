"""Bounce causes, DNS advice and the deliverability pages in the reader's language."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from deliverability.advice import Advice, advice_render
from deliverability.causes import DeliverabilityCause
from deliverability.models import InboundKind
from events.models import EventKind, MailEvent
from tests.factories import UserCardFactory


def test_deliverability_cause_renders_latvian_with_server_text():
    """A bounce cause reads in Latvian, the receiving server's text as its own sentence."""
    params = {"recipient": "klients@firma.lv", "diagnostic": "550 5.1.1 no such user"}
    with translation.override("lv"):
        text = DeliverabilityCause.RECIPIENT_UNKNOWN.render(params)
    assert text == (
        "E-pasts uz klients@firma.lv tika atgriezts: saņēmēja serverī šādas adreses nav; "
        "pārbaudiet klienta e-pasta adresi. Saņēmēja serveris atbildēja: „550 5.1.1 no such "
        "user“."
    )


def test_deliverability_cause_renders_english_unchanged():
    """Without a language the cause keeps its English text."""
    with translation.override("en"):
        text = DeliverabilityCause.MAILBOX_FULL.render({"recipient": "a@b.test"})
    assert text == (
        "Mail to a@b.test bounced: the recipient's mailbox is full; try again later or reach "
        "them another way."
    )


def test_advice_renders_polish_with_placeholders_filled():
    """A recommendation is two Polish sentences with the domain and SPF record filled in."""
    with translation.override("pl"):
        text = advice_render(
            (Advice.DIRECTO_FAILS_NO_SPF, {"domain": "firma.pl"}),
            (Advice.FIX_SPF_PUBLISH, {"domain": "firma.pl", "spf_suggestion": "v=spf1 ~all"}),
        )
    assert text.startswith(
        "Tryb Directo nie przejdzie kontroli SPF: firma.pl nie publikuje rekordu SPF. Wybierz "
        "Directo-Reply-To"
    )
    assert text.endswith("o opublikowanie tego rekordu SPF: v=spf1 ~all.")


def test_inbound_kind_labels_are_estonian():
    """The choice labels translate; the stored values stay the contract's codes."""
    with translation.override("et"):
        assert str(InboundKind.BOUNCE.label) == "Tagastus (kohaletoimetamine ebaõnnestus)"
    assert InboundKind.BOUNCE == "bounce"


@pytest.mark.django_db
def test_diagnostics_page_is_estonian_for_card_language(client):
    """The DNS panel of an Estonian card is Estonian, advice included."""
    card = UserCardFactory(code="KIVI", email="kivi@fail.test", language="et")
    client.force_login(card.user)
    html = client.get(reverse("deliverability:diagnostics")).content.decode()
    assert "<h2>Kohalejõudmine (DNS)</h2>" in html
    assert "DMARC-poliitika" in html
    assert "Valige Directo-Reply-To" in html
    assert "Choose Directo-Reply-To" not in html


@pytest.mark.django_db
def test_events_page_renders_stored_cause_latvian(client):
    """An event stored with its cause and parameters reads in the reader's language."""
    card = UserCardFactory(code="KIVI", language="")
    MailEvent.objects.create(
        card=card,
        user_code=card.code,
        kind=EventKind.BOUNCE,
        cause="recipient_unknown",
        params={"recipient": "x@kivi.test", "diagnostic": "550 unknown"},
        message="Mail to x@kivi.test bounced.",
        recipient="x@kivi.test",
    )
    client.force_login(card.user)
    html = client.get(reverse("deliverability:events"), HTTP_ACCEPT_LANGUAGE="lv").content
    text = html.decode()
    assert "Mani e-pasta notikumi" in text
    assert "E-pasts uz x@kivi.test tika atgriezts" in text
    assert "„550 unknown“" in text
