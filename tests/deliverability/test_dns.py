"""DNS diagnostics against a real DNS server on loopback: SPF, DMARC, provider, advice."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deliverability.diagnostics import domain_diagnostics_get, organisational_domain
from deliverability.dns import DnsClient, dns_nameservers_get
from deliverability.spf import RESULTS, DnsTempError, spf_check
from users.models import MailSender

DIRECTO = MailSender.DIRECTO


def diagnose(domain: str, mode: str = DIRECTO):
    return domain_diagnostics_get(domain=domain, mode=mode, sender=f"kivi@{domain}")


def test_spf_pass_when_record_lists_platform_ips():
    """A domain whose SPF names every platform IP passes, and Directo is said to pass."""
    result = diagnose("pass.test")
    assert result.spf == "pass"
    assert set(result.spf_by_ip.values()) == {"pass"}
    assert "will pass SPF" in result.recommendation
    assert result.spf_suggestion == ""


def test_spf_fail_recommends_directo_reply_to_and_exact_terms():
    """SPF that leaves the platform out with -all fails and recommends Directo-Reply-To."""
    result = diagnose("fail.test")
    assert result.spf == "fail"
    assert "will not pass SPF" in result.recommendation
    assert "Directo-Reply-To" in result.recommendation
    expected = "v=spf1 ip4:198.51.100.7 ip4:192.0.2.10 ip4:192.0.2.11 ip6:2001:db8::25 -all"
    assert result.spf_suggestion == expected
    assert expected in result.recommendation


def test_spf_softfail_with_tilde_all():
    """~all without the platform gives softfail."""
    assert diagnose("softfail.test").spf == "softfail"


def test_spf_neutral_with_question_all():
    """?all gives neutral."""
    assert diagnose("neutral.test").spf == "neutral"


def test_spf_include_chain_passes():
    """An include whose include lists the platform passes (nested includes are followed)."""
    assert diagnose("chain.test").spf == "pass"


def test_spf_redirect_with_a_and_mx_passes():
    """redirect= hands evaluation to the target, whose a: and mx (of the target) match."""
    result = diagnose("redirect.test")
    assert result.spf_by_ip == {
        "192.0.2.10": "pass",
        "192.0.2.11": "pass",
        "2001:db8::25": "pass",
    }


def test_spf_cidr_prefixes_of_a_mechanism():
    """a:/24 and a://64 match addresses in the same networks as the name's addresses."""
    assert diagnose("cidr.test").spf == "pass"


def test_spf_more_than_ten_lookups_is_permerror():
    """Eleven includes exceed the 10-lookup limit: permerror, and the advice says so."""
    result = diagnose("toomany.test")
    assert result.spf == "permerror"
    assert "more than 10 DNS lookups" in result.spf_reason
    assert "at most 10 DNS lookups" in result.recommendation


def test_spf_include_loop_is_permerror():
    """A record that includes itself stops at the lookup limit instead of looping forever."""
    assert diagnose("loop.test").spf == "permerror"


@pytest.mark.parametrize("domain", ["twospf.test", "syntax.test", "badredirect.test"])
def test_spf_broken_records_are_permerror(domain):
    """Two SPF records, a bad ip4 term or a redirect to nowhere are permerror."""
    assert diagnose(domain).spf == "permerror"


@pytest.mark.parametrize("domain", ["nospf.test", "nowhere.test"])
def test_spf_none_without_record(domain):
    """A domain without an SPF record (or without any record) gives none."""
    result = diagnose(domain)
    assert result.spf == "none"
    assert "publishes no SPF record" in result.recommendation


def test_spf_servfail_is_temperror():
    """A SERVFAIL answer is temperror, with advice that the check is repeated."""
    result = diagnose("servfail.test")
    assert result.spf == "temperror"
    assert "could not be checked" in result.recommendation


def test_dns_timeout_is_temperror_within_the_deadline(settings, local_dns):
    """A nameserver that never answers gives temperror within the diagnosis deadline."""
    settings.MAILER_DNS_NAMESERVERS = [local_dns.silent_nameserver]
    started = time.monotonic()
    result = diagnose("pass.test")
    elapsed = time.monotonic() - started
    assert result.spf == "temperror"
    assert elapsed < 5
    assert result.provider is None


def test_dns_lookups_are_cached(local_dns):
    """A second diagnosis of the same domain asks the DNS server nothing new."""
    diagnose("chain.test")
    asked = len(local_dns.resolver.queries)
    diagnose("chain.test")
    assert len(local_dns.resolver.queries) == asked


def test_dns_client_raises_temp_error_on_servfail():
    """The lookup layer turns SERVFAIL into DnsTempError (not an empty answer)."""
    with pytest.raises(DnsTempError):
        DnsClient()("servfail.test", "TXT")


def test_dns_nameservers_parse_ip_and_port(settings):
    """MAILER_DNS_NAMESERVERS takes ip, ip:port and [v6]:port."""
    settings.MAILER_DNS_NAMESERVERS = ["127.0.0.53", "127.1.2.3:5353", "[::1]:5300"]
    assert dns_nameservers_get() == [("127.0.0.53", 53), ("127.1.2.3", 5353), ("::1", 5300)]


def test_dmarc_reject_warns_for_directo_mode():
    """p=reject is read, and Directo mode (SPF failing) is warned that mail will be rejected."""
    result = diagnose("fail.test")
    assert result.dmarc_policy == "reject"
    assert any("fails DMARC alignment" in w and "rejected" in w for w in result.warnings)


def test_dmarc_no_warning_for_directo_reply_to():
    """Directo-Reply-To sends from the platform's domain: no alignment warning, no SPF advice."""
    result = diagnose("fail.test", MailSender.DIRECTO_REPLY_TO)
    assert result.warnings == ()
    assert "do not affect delivery" in result.recommendation


def test_dmarc_falls_back_to_organisational_domain_subdomain_policy():
    """Without _dmarc.<sub>, the organisational domain's sp= applies."""
    result = diagnose("sub.orgdmarc.test")
    assert result.dmarc_policy == "reject"
    assert result.warnings == ()  # SPF passes, so Directo is aligned


def test_dmarc_none_without_record():
    """A domain without DMARC reports null."""
    assert diagnose("pass.test").dmarc_policy is None


@pytest.mark.parametrize(
    ("domain", "provider", "preset"),
    [
        ("google.test", "google", "smtp.gmail.com:465"),
        ("m365.test", "microsoft365", "smtp.office365.com:587"),
        ("zone.test", "zone", "smtp.zone.eu:465"),
        ("telia.test", "telia", None),
        ("own.test", None, None),
    ],
)
def test_provider_recognised_from_mx(domain, provider, preset):
    """MX hosts name the provider and its preset (Telia has no preset: plain SMTP)."""
    result = diagnose(domain)
    assert result.provider == provider
    assert (result.preset.mail_server if result.preset else None) == preset


def test_spf_check_counts_lookups():
    """Evaluating an include chain counts each include against the limit."""
    check = spf_check(lookup=DnsClient(), ip="192.0.2.10", domain="chain.test")
    assert check.result == "pass"
    assert check.lookups == 2


def test_organisational_domain_keeps_two_label_suffixes():
    """a.b.example.co.uk → example.co.uk; a.example.ee → example.ee."""
    assert organisational_domain("a.b.example.co.uk") == "example.co.uk"
    assert organisational_domain("a.example.ee") == "example.ee"


SPF_TERMS = st.sampled_from(
    [
        "-all", "~all", "?all", "+all", "all:x", "include:a.fuzz", "include:", "redirect=a.fuzz",
        "redirect=b.fuzz", "a", "a:a.fuzz/24", "a//64", "a/99", "mx", "mx:b.fuzz//200", "ptr",
        "exists:%{i}.a.fuzz", "exists:%{x}", "ip4:192.0.2.0/24", "ip4:300.1.1.1",
        "ip6:2001:db8::/32",
        "ip6:192.0.2.1", "exp=x.fuzz", "unknown=1", "bogus", "%{d2r}", "include:%{o}",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(SPF_TERMS, max_size=12),
    st.lists(SPF_TERMS, max_size=6),
    st.sampled_from(["192.0.2.10", "2001:db8::25"]),
)
def test_spf_check_gives_a_result_for_any_record(terms_top, terms_other, ip):
    """Whatever the published records say, evaluation ends in one of the seven results."""
    zone = {
        ("top.fuzz", "TXT"): ("v=spf1 " + " ".join(terms_top),),
        ("a.fuzz", "TXT"): ("v=spf1 " + " ".join(terms_other),),
        ("a.fuzz", "A"): ("192.0.2.10",),
        ("b.fuzz", "MX"): ("a.fuzz",),
    }

    def lookup(name: str, rdtype: str) -> tuple[str, ...]:
        return zone.get((name, rdtype), ())

    check = spf_check(lookup=lookup, ip=ip, domain="top.fuzz", sender="kivi@top.fuzz")
    assert check.result in RESULTS
    assert check.lookups <= 11
