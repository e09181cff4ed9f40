"""Why SPF gave no verdict reads in the reader's language on the DNS panel, names kept."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from deliverability.diagnostics import domain_diagnostics_get
from tests.factories import UserCardFactory
from users.models import MailSender

#: English fragments of SPF reasons that must not remain in a translated page.
ENGLISH = (
    "DNS lookups (at",
    "receivers treat it as broken",
    "is not a valid address",
    "publishes more than one SPF record",
    "has no SPF record",
)


@pytest.mark.parametrize("language", ["et", "lv", "pl"])
@pytest.mark.parametrize(
    ("domain", "kept"),
    [
        ("toomany.test", "include:l11.toomany.test"),
        ("syntax.test", "ip4:not-an-ip"),
        ("twospf.test", ""),
        ("badredirect.test", "nothing.test"),
    ],
)
def test_spf_reason_is_translated_and_keeps_the_term(domain, kept, language):
    """A permerror's reason is said in the reader's language; the term stays as published."""
    diagnostics = domain_diagnostics_get(
        domain=domain, mode=MailSender.DIRECTO, sender=f"kivi@{domain}"
    )
    assert diagnostics.spf == "permerror"
    with translation.override("en"):
        english = diagnostics.spf_reason_text
    assert english == diagnostics.spf_reason  # the JSON's spf_reason stays English
    with translation.override(language):
        text = diagnostics.spf_reason_text
        recommendation = domain_diagnostics_get(
            domain=domain, mode=MailSender.DIRECTO, sender=f"kivi@{domain}"
        ).recommendation
    assert text != english and kept in text and kept in recommendation
    assert not any(fragment in text or fragment in recommendation for fragment in ENGLISH)


@pytest.mark.django_db
def test_diagnostics_page_shows_the_spf_reason_in_polish(client):
    """The Polish DNS panel of a domain over the lookup limit explains it in Polish."""
    card = UserCardFactory(code="KIVI", email="kivi@toomany.test", language="pl")
    client.force_login(card.user)
    html = client.get(reverse("deliverability:diagnostics")).content.decode()
    assert "permerror" in html and "include:l11.toomany.test" in html
    assert "receivers treat it as broken" not in html and "DNS lookups (at" not in html
