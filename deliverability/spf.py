"""SPF evaluation (RFC 7208 check_host) for one IP address, over a pluggable DNS lookup."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

from events.errors import ErrorCause, Param

PASS, FAIL, SOFTFAIL, NEUTRAL = "pass", "fail", "softfail", "neutral"
NONE, PERMERROR, TEMPERROR = "none", "permerror", "temperror"
RESULTS = (PASS, FAIL, SOFTFAIL, NEUTRAL, NONE, PERMERROR, TEMPERROR)

#: RFC 7208 §4.6.4: at most 10 terms that cause DNS lookups, and 10 names per "mx".
LOOKUP_LIMIT = 10
MX_NAME_LIMIT = 10

_QUALIFIERS = {"+": PASS, "-": FAIL, "~": SOFTFAIL, "?": NEUTRAL}
_DIRECTIVE = re.compile(r"^([+?~-]?)(all|include|a|mx|ptr|ip4|ip6|exists)(?=$|[:/])(.*)$", re.I)
_MODIFIER = re.compile(r"^([a-z][a-z0-9_.-]*)=(.*)$", re.I)
_A_MX_ARG = re.compile(r"^(?::(?P<domain>[^/]+))?(?:/(?P<c4>\d{1,2}))?(?://(?P<c6>\d{1,3}))?$")
_MACRO = re.compile(
    r"%(?:\{(?P<letter>[slodiphcrtv])(?P<digits>\d*)(?P<reverse>r?)"
    r"(?P<delims>[.\-+,/_=]*)\}|(?P<escape>[%_-]))",
    re.I,
)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: lookup(name, rdtype) returns the records' text (TXT joined, MX hosts by preference, A/AAAA
#: addresses), () when the name has none, and raises DnsTempError when DNS does not answer.
Lookup = Callable[[str, str], tuple[str, ...]]


class SpfReason(ErrorCause):
    """Why SPF gave no verdict (permerror, temperror): a template, translated when shown.

    Not registered (no event stores it): a diagnosis renders it when the page is made, so
    the reason reads in the reader's language; the names in it (terms, domains) stay as DNS has
    them. Parameters: `term`, `target`, `limit`, `spec`, `rdtype`, `name`, `error`.
    """

    MANY_RECORDS = (
        "many_records",
        gettext_noop("the domain publishes more than one SPF record"),
    )
    LOOKUP_LIMIT = (
        "lookup_limit",
        gettext_noop(
            "the SPF record needs more than {limit} DNS lookups (at “{term}”), so receivers "
            "treat it as broken"
        ),
    )
    TWO_REDIRECTS = ("two_redirects", gettext_noop("the SPF record has two redirect= modifiers"))
    UNKNOWN_TERM = ("unknown_term", gettext_noop("the SPF record has an unknown term “{term}”"))
    REDIRECT_NO_SPF = (
        "redirect_no_spf",
        gettext_noop("the SPF redirect target {target} has no SPF record"),
    )
    TERM_INVALID = ("term_invalid", gettext_noop("the SPF term “{term}” is invalid"))
    TERM_NO_DOMAIN = ("term_no_domain", gettext_noop("the SPF term “{term}” names no domain"))
    INCLUDE_NO_SPF = (
        "include_no_spf",
        gettext_noop("the included domain {target} has no SPF record"),
    )
    INCLUDE_BROKEN = (
        "include_broken",
        gettext_noop("the included domain {target} has a broken SPF record"),
    )
    PREFIX_INVALID = (
        "prefix_invalid",
        gettext_noop("the SPF term “{term}” has an invalid prefix length"),
    )
    TOO_MANY_MX = ("too_many_mx", gettext_noop("{target} has more than {limit} MX records"))
    TERM_NO_ADDRESS = ("term_no_address", gettext_noop("the SPF term “{term}” names no address"))
    TERM_BAD_ADDRESS = (
        "term_bad_address",
        gettext_noop("the SPF term “{term}” is not a valid address"),
    )
    TERM_WRONG_FAMILY = (
        "term_wrong_family",
        gettext_noop("the SPF term “{term}” has the wrong address family"),
    )
    MACRO_ZERO_LABELS = ("macro_zero_labels", gettext_noop("an SPF macro keeps zero labels"))
    MACRO_INVALID = (
        "macro_invalid",
        gettext_noop("the SPF domain “{spec}” has an invalid macro"),
    )
    # DNS did not answer (DnsTempError): the result is temperror.
    DNS_NO_ANSWER_RECENTLY = (
        "dns_no_answer_recently",
        gettext_noop(
            "a DNS lookup failed: {rdtype} {name} did not answer recently (asked again later)"
        ),
    )
    DNS_TOO_LONG = (
        "dns_too_long",
        gettext_noop("a DNS lookup failed: the DNS checks took too long"),
    )
    DNS_TIMED_OUT = (
        "dns_timed_out",
        gettext_noop("a DNS lookup failed: {rdtype} {name} timed out"),
    )
    DNS_FAILED = (
        "dns_failed",
        gettext_noop("a DNS lookup failed: {rdtype} {name} ({error})"),
    )

    def english(self, params: Mapping[str, Param]) -> str:
        """Return the reason in English (the `spf_reason` of `mail_diagnostics --json`)."""
        return self.template.format_map(self.context(params))


class _ReasonError(Exception):
    """An exception that says why as an SpfReason and its parameters; str() is English."""

    def __init__(self, reason: SpfReason, **params: Param) -> None:
        self.reason = reason
        self.params: dict[str, Param] = params
        super().__init__(reason.english(params))


class DnsTempError(_ReasonError):
    """DNS did not answer (timeout, SERVFAIL): the result is `temperror`, try again later."""


class SpfPermError(_ReasonError):
    """The published SPF is broken (syntax, two records, over the lookup limit)."""


def spf_record_select(txts: tuple[str, ...]) -> str | None:
    """Return the domain's one SPF record, None without one; raise SpfPermError for several."""
    records = [t for t in txts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]
    if len(records) > 1:
        raise SpfPermError(SpfReason.MANY_RECORDS)
    return records[0] if records else None


@dataclass
class SpfCheck:
    """One check_host evaluation: the lookup budget is shared by includes and redirects."""

    lookup: Lookup
    ip: IpAddress
    sender: str
    lookups: int = 0
    result: str = ""
    #: Why there is no verdict, in English; `why` and `why_params` make it in any language.
    reason: str = ""
    why: SpfReason | None = None
    why_params: dict[str, Param] = field(default_factory=dict)
    record: str | None = None

    def run(self, domain: str) -> str:
        """Return the SPF result for the IP and domain; never raises for DNS or SPF errors."""
        try:
            self.result = self._check(domain.rstrip(".").lower(), top=True)
        except DnsTempError as exc:
            self.result, self.reason, self.why, self.why_params = (
                TEMPERROR,
                str(exc),
                exc.reason,
                exc.params,
            )
        except SpfPermError as exc:
            self.result, self.reason, self.why, self.why_params = (
                PERMERROR,
                str(exc),
                exc.reason,
                exc.params,
            )
        return self.result

    def _count(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise SpfPermError(SpfReason.LOOKUP_LIMIT, limit=LOOKUP_LIMIT, term=term)

    def _check(self, domain: str, *, top: bool = False) -> str:
        if not domain or len(domain) > 253 or ".." in domain:
            return NONE
        record = spf_record_select(self.lookup(domain, "TXT"))
        if top:
            self.record = record
        if record is None:
            return NONE
        redirect = None
        for term in record.split()[1:]:
            modifier = _MODIFIER.match(term)
            directive = _DIRECTIVE.match(term)
            if directive is None and modifier is not None:
                if modifier.group(1).lower() == "redirect":
                    if redirect is not None:
                        raise SpfPermError(SpfReason.TWO_REDIRECTS)
                    redirect = modifier.group(2)
                continue
            if directive is None:
                raise SpfPermError(SpfReason.UNKNOWN_TERM, term=term)
            qualifier, mechanism, argument = directive.groups()
            if self._matches(mechanism.lower(), argument, domain, term):
                return _QUALIFIERS[qualifier or "+"]
        if redirect is not None:
            self._count(f"redirect={redirect}")
            target = self._expand(redirect, domain)
            result = self._check(target)
            if result == NONE:
                raise SpfPermError(SpfReason.REDIRECT_NO_SPF, target=target)
            return result
        return NEUTRAL

    def _matches(self, mechanism: str, argument: str, domain: str, term: str) -> bool:
        if mechanism == "all":
            if argument:
                raise SpfPermError(SpfReason.TERM_INVALID, term=term)
            return True
        if mechanism in ("ip4", "ip6"):
            return self._ip_matches(mechanism, argument, term)
        if mechanism in ("include", "exists"):
            if not argument.startswith(":") or len(argument) < 2:
                raise SpfPermError(SpfReason.TERM_NO_DOMAIN, term=term)
            self._count(term)
            target = self._expand(argument[1:], domain)
            if mechanism == "exists":
                return bool(self.lookup(target, "A"))
            result = self._check(target)
            if result == NONE:
                raise SpfPermError(SpfReason.INCLUDE_NO_SPF, target=target)
            if result in (TEMPERROR, PERMERROR):
                raise SpfPermError(SpfReason.INCLUDE_BROKEN, target=target)
            return result == PASS
        if mechanism == "ptr":
            # RFC 7208 §5.5: "do not use"; it counts against the limit but is not evaluated.
            self._count(term)
            return False
        match = _A_MX_ARG.match(argument)
        if match is None:
            raise SpfPermError(SpfReason.TERM_INVALID, term=term)
        self._count(term)
        target = self._expand(match.group("domain"), domain) if match.group("domain") else domain
        cidr4, cidr6 = match.group("c4"), match.group("c6")
        if self.ip.version == 4:
            prefix = int(cidr4) if cidr4 else 32
        else:
            prefix = int(cidr6) if cidr6 else 128
        if prefix > self.ip.max_prefixlen:
            raise SpfPermError(SpfReason.PREFIX_INVALID, term=term)
        names = [target]
        if mechanism == "mx":
            names = list(self.lookup(target, "MX"))
            if len(names) > MX_NAME_LIMIT:
                raise SpfPermError(SpfReason.TOO_MANY_MX, target=target, limit=MX_NAME_LIMIT)
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        for name in names:
            for address in self.lookup(name, rdtype):
                network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
                if self.ip in network:
                    return True
        return False

    def _ip_matches(self, mechanism: str, argument: str, term: str) -> bool:
        if not argument.startswith(":"):
            raise SpfPermError(SpfReason.TERM_NO_ADDRESS, term=term)
        try:
            network = ipaddress.ip_network(argument[1:], strict=False)
        except ValueError as exc:
            raise SpfPermError(SpfReason.TERM_BAD_ADDRESS, term=term) from exc
        if network.version != int(mechanism[-1]):
            raise SpfPermError(SpfReason.TERM_WRONG_FAMILY, term=term)
        return network.version == self.ip.version and self.ip in network

    def _expand(self, spec: str, domain: str) -> str:
        """Expand RFC 7208 §7 macros in a domain-spec."""
        local, _, sender_domain = self.sender.rpartition("@")
        values = {
            "s": self.sender or f"postmaster@{domain}",
            "l": local or "postmaster",
            "o": sender_domain or domain,
            "d": domain,
            "i": self._ip_macro(),
            "v": "in-addr" if self.ip.version == 4 else "ip6",
            "h": domain,
            "p": "unknown",
        }

        def replace(match: re.Match[str]) -> str:
            escape = match.group("escape")
            if escape:
                return {"%": "%", "_": " ", "-": "%20"}[escape]
            value = values.get(match.group("letter").lower(), "")
            parts = re.split("[" + re.escape(match.group("delims") or ".") + "]", value)
            if match.group("reverse"):
                parts.reverse()
            digits = match.group("digits")
            if digits:
                if int(digits) == 0:
                    raise SpfPermError(SpfReason.MACRO_ZERO_LABELS)
                parts = parts[-int(digits) :]
            return ".".join(parts)

        if "%" in spec and not _MACRO.search(spec):
            raise SpfPermError(SpfReason.MACRO_INVALID, spec=spec)
        return _MACRO.sub(replace, spec).rstrip(".").lower()

    def _ip_macro(self) -> str:
        if self.ip.version == 4:
            return str(self.ip)
        return ".".join(self.ip.exploded.replace(":", ""))


def spf_check(*, lookup: Lookup, ip: str, domain: str, sender: str = "") -> SpfCheck:
    """Evaluate the domain's SPF for one IP; the returned check holds result inputs and reason."""
    check = SpfCheck(lookup=lookup, ip=ipaddress.ip_address(ip), sender=sender)
    check.run(domain)
    return check
