"""DNS diagnostics of a card's e-mail domain: SPF for the platform, DMARC, provider, advice."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from deliverability.advice import Advice, advice_render
from deliverability.dns import DnsClient
from deliverability.spf import (
    FAIL,
    NEUTRAL,
    NONE,
    PASS,
    PERMERROR,
    SOFTFAIL,
    TEMPERROR,
    DnsTempError,
    Lookup,
    SpfReason,
    spf_check,
)
from events.errors import Param
from mailer.services import sender_config_get
from users.models import MailSender
from users.providers import PRESETS_BY_KEY, ProviderPreset

if TYPE_CHECKING:
    from users.models import UserCard

#: The worst result of any platform IP is the domain's answer, in this order.
_SEVERITY = (TEMPERROR, PERMERROR, NONE, FAIL, SOFTFAIL, NEUTRAL, PASS)
DMARC_POLICIES = ("none", "quarantine", "reject")

#: MX host patterns of the providers the card has presets or hints for.
PROVIDER_MX: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("google", re.compile(r"(^|\.)(google\.com|googlemail\.com)$")),
    ("microsoft365", re.compile(r"\.mail\.protection\.outlook\.com$|(^|\.)mx\.microsoft$")),
    ("zone", re.compile(r"(^|\.)zone\.(eu|ee)$")),
    ("telia", re.compile(r"(^|\.)(mail\.ee|telia\.ee|telia\.com)$")),
)
PROVIDER_LABELS = {"telia": "Telia (mail.ee)"}
#: The SPF include each provider documents, for a domain that has no SPF record yet.
PROVIDER_SPF_INCLUDE = {
    "google": "include:_spf.google.com",
    "microsoft365": "include:spf.protection.outlook.com",
}
#: Two-label public suffixes met in the markets served (no public-suffix list is shipped).
_TWO_LABEL_SUFFIXES = frozenset(
    {"co.uk", "org.uk", "ac.uk", "com.au", "co.nz", "com.ee", "pri.ee", "med.ee", "fie.ee",
     "com.pl", "net.pl", "org.pl", "com.lv", "org.lv", "id.lv", "com.lt", "org.lt"}
)  # fmt: skip


@dataclass(frozen=True)
class Diagnostics:
    """What DNS says about sending for a domain, and what to do about it."""

    domain: str
    mode: str
    spf: str
    spf_record: str | None
    spf_by_ip: dict[str, str]
    spf_reason: str
    dmarc_policy: str | None
    dmarc_record: str | None
    provider: str | None
    preset: ProviderPreset | None
    mx: tuple[str, ...]
    recommendation: str
    spf_suggestion: str
    platform_outbound_ips: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())
    #: Why SPF gave no verdict, as a reason and its values (`spf_reason` is its English text).
    spf_why: SpfReason | None = None
    spf_why_params: dict[str, Param] = field(default_factory=dict)

    @property
    def spf_reason_text(self) -> str:
        """Return why SPF gave no verdict, in the active language."""
        if self.spf_why is None:
            return self.spf_reason
        return self.spf_why.render(self.spf_why_params)

    @property
    def directo_passes(self) -> bool:
        return self.spf == PASS

    @property
    def provider_label(self) -> str:
        if self.preset is not None:
            return self.preset.label
        return PROVIDER_LABELS.get(self.provider or "", self.provider or "")

    def as_dict(self) -> dict[str, Any]:
        """Return the `mail_diagnostics --json` document."""
        preset = None
        if self.preset is not None:
            preset = {
                "key": self.preset.key,
                "label": self.preset.label,
                "mail_server": self.preset.mail_server,
                "ssl_tls": self.preset.ssl_tls,
                "mail_sender": self.preset.mail_sender,
                "hint": self.preset.hint,
            }
        return {
            "domain": self.domain,
            "mode": self.mode,
            "spf": self.spf,
            "spf_record": self.spf_record,
            "spf_by_ip": dict(self.spf_by_ip),
            "spf_reason": self.spf_reason,
            "spf_suggestion": self.spf_suggestion,
            "dmarc_policy": self.dmarc_policy,
            "dmarc_record": self.dmarc_record,
            "provider": self.provider,
            "preset": preset,
            "mx": list(self.mx),
            "recommendation": self.recommendation,
            "warnings": list(self.warnings),
            "platform_outbound_ips": list(self.platform_outbound_ips),
        }


def platform_outbound_ips_get() -> tuple[str, ...]:
    """Return PLATFORM_OUTBOUND_IPS, each checked to be an IP address."""
    ips = tuple(str(ip).strip() for ip in settings.PLATFORM_OUTBOUND_IPS if str(ip).strip())
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"PLATFORM_OUTBOUND_IPS: “{ip}” is not an IP address"
            ) from exc
    return ips


def organisational_domain(domain: str) -> str:
    """Return the registered domain (RFC 7489 §3.2), by a small list of two-label suffixes."""
    labels = domain.split(".")
    keep = 3 if ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def _dmarc_tags(lookup: Lookup, name: str) -> dict[str, str] | None:
    records = [t for t in lookup(f"_dmarc.{name}", "TXT") if re.match(r"v\s*=\s*DMARC1\b", t)]
    if len(records) != 1:
        return None
    tags = {}
    for part in records[0].split(";"):
        key, _, value = part.partition("=")
        tags[key.strip().lower()] = value.strip()
    tags["_record"] = records[0]
    return tags


def dmarc_policy_get(*, lookup: Lookup, domain: str) -> tuple[str | None, str | None]:
    """Return the DMARC policy that applies to the domain and its record (None, None if none)."""
    tags = _dmarc_tags(lookup, domain)
    policy_tag = "p"
    if tags is None:
        organisation = organisational_domain(domain)
        if organisation == domain:
            return None, None
        tags = _dmarc_tags(lookup, organisation)
        if tags is None:
            return None, None
        policy_tag = "sp" if tags.get("sp", "").lower() in DMARC_POLICIES else "p"
    policy = tags.get(policy_tag, "").lower()
    # RFC 7489 §6.6.3: an invalid p= with a valid record is treated as "none".
    return (policy if policy in DMARC_POLICIES else "none"), tags["_record"]


def provider_from_mx(mx_hosts: tuple[str, ...]) -> str | None:
    """Return the provider of the most preferred MX host that a known provider runs."""
    for host in mx_hosts:
        for key, pattern in PROVIDER_MX:
            if pattern.search(host.rstrip(".").lower()):
                return key
    return None


def _spf_terms(ips: tuple[str, ...]) -> str:
    return " ".join(f"ip{ipaddress.ip_address(ip).version}:{ip}" for ip in ips)


def _spf_suggestion(record: str | None, ips: tuple[str, ...], provider: str | None) -> str:
    """Return the SPF record to publish so that the platform's servers pass."""
    terms = _spf_terms(ips)
    if record is None:
        include = PROVIDER_SPF_INCLUDE.get(provider or "")
        return " ".join(t for t in ("v=spf1", include, terms, "~all") if t)
    parts = record.split()
    for index, part in enumerate(parts):
        if re.fullmatch(r"[+?~-]?all", part, re.I) or part.lower().startswith("redirect="):
            return " ".join([*parts[:index], terms, *parts[index:]])
    return " ".join([*parts, terms])


def domain_diagnostics_get(*, domain: str, mode: str, sender: str = "") -> Diagnostics:
    """Diagnose the domain for the platform's outbound IPs; DNS failures become temperror."""
    domain = domain.strip().rstrip(".").lower()
    ips = platform_outbound_ips_get()
    lookup = DnsClient()
    warnings: list[str] = []

    by_ip: dict[str, str] = {}
    record, reason, why, why_params = None, "", None, {}
    for ip in ips:
        check = spf_check(lookup=lookup, ip=ip, domain=domain, sender=sender)
        by_ip[ip] = check.result
        record = record or check.record
        if not reason:
            reason, why, why_params = check.reason, check.why, check.why_params
    spf = min(by_ip.values(), key=_SEVERITY.index) if by_ip else NONE

    try:
        dmarc_policy, dmarc_record = dmarc_policy_get(lookup=lookup, domain=domain)
    except DnsTempError:
        dmarc_policy, dmarc_record = None, None
        warnings.append(advice_render((Advice.DMARC_UNREAD, {"domain": domain})))
    try:
        mx = lookup(domain, "MX")
    except DnsTempError:
        mx = ()
        warnings.append(advice_render((Advice.MX_UNREAD, {"domain": domain})))
    provider = provider_from_mx(mx)
    preset = PRESETS_BY_KEY.get(provider or "")

    diagnostics = Diagnostics(
        domain=domain,
        mode=mode,
        spf=spf,
        spf_record=record,
        spf_by_ip=by_ip,
        spf_reason=reason,
        spf_why=why,
        spf_why_params=why_params,
        dmarc_policy=dmarc_policy,
        dmarc_record=dmarc_record,
        provider=provider,
        preset=preset,
        mx=mx,
        recommendation="",
        spf_suggestion="" if spf == PASS else _spf_suggestion(record, ips, provider),
        platform_outbound_ips=ips,
    )
    warnings.extend(_dmarc_warnings(diagnostics))
    return replace(
        diagnostics, recommendation=_recommendation(diagnostics), warnings=tuple(warnings)
    )


def card_diagnostics_get(*, card: UserCard) -> Diagnostics | None:
    """Diagnose the card's e-mail domain for its resolved mode; None when it has no e-mail."""
    if "@" not in card.email:
        return None
    try:
        mode = sender_config_get(card=card).mode
    except ImproperlyConfigured:
        mode = card.mail_sender
    return domain_diagnostics_get(
        domain=card.email.rpartition("@")[2], mode=mode, sender=card.email
    )


#: Why the Directo mode fails SPF, by the domain's SPF result (TEMPERROR is advised on apart).
_DIRECTO_FAILS = {
    NONE: Advice.DIRECTO_FAILS_NO_SPF,
    PERMERROR: Advice.DIRECTO_FAILS_SPF_BROKEN,
    FAIL: Advice.DIRECTO_FAILS_SPF_REJECTS,
    SOFTFAIL: Advice.DIRECTO_FAILS_SPF_SUSPICIOUS,
    NEUTRAL: Advice.DIRECTO_FAILS_SPF_NEUTRAL,
}

#: What a domain's DMARC policy does to mail that fails SPF in the Directo mode.
_DMARC_WARNINGS = {
    "none": Advice.DMARC_NONE,
    "quarantine": Advice.DMARC_QUARANTINE,
    "reject": Advice.DMARC_REJECT,
}


def _recommendation(d: Diagnostics) -> str:
    domain = {"domain": d.domain}
    if d.spf == TEMPERROR:
        return advice_render((Advice.DNS_UNCHECKED, domain))
    if d.mode in (MailSender.SMTP, MailSender.M365_OAUTH):
        if d.preset is None:
            return advice_render((Advice.OWN_SERVER, {}))
        preset = {
            "provider": d.preset.label,
            "mail_server": d.preset.mail_server,
            "ssl_tls": d.preset.ssl_tls.upper(),
        }
        return advice_render((Advice.OWN_SERVER, {}), (Advice.OWN_SERVER_PRESET, domain | preset))
    if d.mode == MailSender.DIRECTO_REPLY_TO:
        if d.spf != PASS:
            return advice_render((Advice.REPLY_TO, domain))
        return advice_render((Advice.REPLY_TO, domain), (Advice.REPLY_TO_DIRECTO_PASSES, domain))
    if d.spf == PASS:
        return advice_render((Advice.DIRECTO_PASSES, domain))
    if d.spf == PERMERROR and d.spf_why == SpfReason.LOOKUP_LIMIT:
        fix = (Advice.FIX_SPF_LOOKUPS, domain | {"spf_terms": _spf_terms(d.platform_outbound_ips)})
    else:
        fix = (Advice.FIX_SPF_PUBLISH, domain | {"spf_suggestion": d.spf_suggestion})
    return advice_render((_DIRECTO_FAILS[d.spf], domain | {"reason": d.spf_reason_text}), fix)


def _dmarc_warnings(d: Diagnostics) -> list[str]:
    if d.mode != MailSender.DIRECTO or d.spf == PASS or d.dmarc_policy is None:
        return []
    return [advice_render((_DMARC_WARNINGS[d.dmarc_policy], {"domain": d.domain}))]
