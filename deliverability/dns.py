"""DNS lookups for the diagnostics: cached, time-limited, against MAILER_DNS_NAMESERVERS."""

from __future__ import annotations

import hashlib
import ipaddress
import time

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from deliverability.spf import DnsTempError, SpfReason

#: One lookup may take this long (all retries included).
LOOKUP_LIFETIME = 3.0
#: A whole diagnosis (SPF for every platform IP, DMARC, MX) stops after this long: temperror.
DIAGNOSIS_DEADLINE = 8.0
CACHE_SECONDS = 300
#: A failed lookup is remembered briefly so a page reload does not wait for DNS again.
FAILURE_CACHE_SECONDS = 30
_CACHE_PREFIX = "deliverability:dns:"
_FAILED = "__temperror__"


def dns_nameservers_get() -> list[tuple[str, int]]:
    """Return MAILER_DNS_NAMESERVERS as (ip, port) pairs; [] means the system resolver."""
    servers = []
    for entry in settings.MAILER_DNS_NAMESERVERS:
        entry = str(entry).strip()
        if not entry:
            continue
        host, port = entry, 53
        if entry.startswith("["):  # [v6]:port
            host, _, rest = entry[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 53
        elif entry.count(":") == 1:
            host, _, port_text = entry.partition(":")
            if not port_text.isdigit():
                raise ImproperlyConfigured(f"MAILER_DNS_NAMESERVERS: “{entry}” has no valid port")
            port = int(port_text)
        try:
            ipaddress.ip_address(host)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"MAILER_DNS_NAMESERVERS: “{entry}” is not an IP address or ip:port"
            ) from exc
        servers.append((host, port))
    return servers


class DnsClient:
    """Lookups for one diagnosis, all within one deadline and through the shared cache."""

    def __init__(self, *, deadline: float | None = None) -> None:
        servers = dns_nameservers_get()
        if servers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in servers]
        else:
            self._resolver = dns.resolver.Resolver()
        self._servers_key = repr(servers)
        self._ends_at = time.monotonic() + (DIAGNOSIS_DEADLINE if deadline is None else deadline)
        self.lookups = 0

    def _key(self, name: str, rdtype: str) -> str:
        digest = hashlib.sha256(f"{self._servers_key}|{name}|{rdtype}".encode()).hexdigest()
        return _CACHE_PREFIX + digest

    def __call__(self, name: str, rdtype: str) -> tuple[str, ...]:
        """Return the records' text; () for none; raise DnsTempError when DNS does not answer."""
        name = name.rstrip(".").lower()
        key = self._key(name, rdtype)
        cached = cache.get(key)
        if cached == _FAILED:
            raise DnsTempError(SpfReason.DNS_NO_ANSWER_RECENTLY, rdtype=rdtype, name=name)
        if cached is not None:
            return tuple(cached)
        try:
            records = self._query(name, rdtype)
        except DnsTempError:
            cache.set(key, _FAILED, FAILURE_CACHE_SECONDS)
            raise
        cache.set(key, list(records), CACHE_SECONDS)
        return records

    def _query(self, name: str, rdtype: str) -> tuple[str, ...]:
        remaining = self._ends_at - time.monotonic()
        if remaining <= 0:
            raise DnsTempError(SpfReason.DNS_TOO_LONG)
        lifetime = min(LOOKUP_LIFETIME, remaining)
        self.lookups += 1
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException:
            return ()  # not a valid domain name: it has no records
        try:
            answer = self._resolver.resolve(
                qname, rdtype, lifetime=lifetime, search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return ()
        except dns.exception.Timeout as exc:
            raise DnsTempError(SpfReason.DNS_TIMED_OUT, rdtype=rdtype, name=name) from exc
        except (dns.exception.DNSException, OSError) as exc:
            error = type(exc).__name__
            raise DnsTempError(SpfReason.DNS_FAILED, rdtype=rdtype, name=name, error=error) from exc
        return _records_text(answer, rdtype)


def _records_text(answer: dns.resolver.Answer, rdtype: str) -> tuple[str, ...]:
    if answer.rrset is None:
        return ()
    kind = dns.rdatatype.from_text(rdtype)
    rdatas = [r for r in answer.rrset if r.rdtype == kind]
    if rdtype == "TXT":
        return tuple(b"".join(r.strings).decode("utf-8", "replace") for r in rdatas)
    if rdtype == "MX":
        ordered = sorted(rdatas, key=lambda r: (r.preference, str(r.exchange)))
        return tuple(str(r.exchange).rstrip(".").lower() for r in ordered)
    return tuple(r.to_text() for r in rdatas)
