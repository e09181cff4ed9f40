"""SPF evaluation (RFC 7208 check_host) for one IP address, over a pluggable DNS lookup."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

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


class DnsTempError(Exception):
    """DNS did not answer (timeout, SERVFAIL): the result is `temperror`, try again later."""


class SpfPermError(Exception):
    """The published SPF is broken (syntax, two records, over the lookup limit)."""


def spf_record_select(txts: tuple[str, ...]) -> str | None:
    """Return the domain's one SPF record, None without one; raise SpfPermError for several."""
    records = [t for t in txts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]
    if len(records) > 1:
        raise SpfPermError("the domain publishes more than one SPF record")
    return records[0] if records else None


@dataclass
class SpfCheck:
    """One check_host evaluation: the lookup budget is shared by includes and redirects."""

    lookup: Lookup
    ip: IpAddress
    sender: str
    lookups: int = 0
    result: str = ""
    reason: str = ""
    record: str | None = None

    def run(self, domain: str) -> str:
        """Return the SPF result for the IP and domain; never raises for DNS or SPF errors."""
        try:
            self.result = self._check(domain.rstrip(".").lower(), top=True)
        except DnsTempError as exc:
            self.result, self.reason = TEMPERROR, f"a DNS lookup failed ({exc})"
        except SpfPermError as exc:
            self.result, self.reason = PERMERROR, str(exc)
        return self.result

    def _count(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise SpfPermError(
                f"the SPF record needs more than {LOOKUP_LIMIT} DNS lookups (at “{term}”), so "
                "receivers treat it as broken"
            )

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
                        raise SpfPermError("the SPF record has two redirect= modifiers")
                    redirect = modifier.group(2)
                continue
            if directive is None:
                raise SpfPermError(f"the SPF record has an unknown term “{term}”")
            qualifier, mechanism, argument = directive.groups()
            if self._matches(mechanism.lower(), argument, domain, term):
                return _QUALIFIERS[qualifier or "+"]
        if redirect is not None:
            self._count(f"redirect={redirect}")
            target = self._expand(redirect, domain)
            result = self._check(target)
            if result == NONE:
                raise SpfPermError(f"the SPF redirect target {target} has no SPF record")
            return result
        return NEUTRAL

    def _matches(self, mechanism: str, argument: str, domain: str, term: str) -> bool:
        if mechanism == "all":
            if argument:
                raise SpfPermError(f"the SPF term “{term}” is invalid")
            return True
        if mechanism in ("ip4", "ip6"):
            return self._ip_matches(mechanism, argument, term)
        if mechanism in ("include", "exists"):
            if not argument.startswith(":") or len(argument) < 2:
                raise SpfPermError(f"the SPF term “{term}” names no domain")
            self._count(term)
            target = self._expand(argument[1:], domain)
            if mechanism == "exists":
                return bool(self.lookup(target, "A"))
            result = self._check(target)
            if result == NONE:
                raise SpfPermError(f"the included domain {target} has no SPF record")
            if result in (TEMPERROR, PERMERROR):
                raise SpfPermError(f"the included domain {target} has a broken SPF record")
            return result == PASS
        if mechanism == "ptr":
            # RFC 7208 §5.5: "do not use"; it counts against the limit but is not evaluated.
            self._count(term)
            return False
        match = _A_MX_ARG.match(argument)
        if match is None:
            raise SpfPermError(f"the SPF term “{term}” is invalid")
        self._count(term)
        target = self._expand(match.group("domain"), domain) if match.group("domain") else domain
        cidr4, cidr6 = match.group("c4"), match.group("c6")
        if self.ip.version == 4:
            prefix = int(cidr4) if cidr4 else 32
        else:
            prefix = int(cidr6) if cidr6 else 128
        if prefix > self.ip.max_prefixlen:
            raise SpfPermError(f"the SPF term “{term}” has an invalid prefix length")
        names = [target]
        if mechanism == "mx":
            names = list(self.lookup(target, "MX"))
            if len(names) > MX_NAME_LIMIT:
                raise SpfPermError(f"{target} has more than {MX_NAME_LIMIT} MX records")
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        for name in names:
            for address in self.lookup(name, rdtype):
                network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
                if self.ip in network:
                    return True
        return False

    def _ip_matches(self, mechanism: str, argument: str, term: str) -> bool:
        if not argument.startswith(":"):
            raise SpfPermError(f"the SPF term “{term}” names no address")
        try:
            network = ipaddress.ip_network(argument[1:], strict=False)
        except ValueError as exc:
            raise SpfPermError(f"the SPF term “{term}” is not a valid address") from exc
        if network.version != int(mechanism[-1]):
            raise SpfPermError(f"the SPF term “{term}” has the wrong address family")
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
                    raise SpfPermError("an SPF macro keeps zero labels")
                parts = parts[-int(digits) :]
            return ".".join(parts)

        if "%" in spec and not _MACRO.search(spec):
            raise SpfPermError(f"the SPF domain “{spec}” has an invalid macro")
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
