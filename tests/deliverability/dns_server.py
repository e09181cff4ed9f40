"""A real DNS server for tests: dnslib on 127.x.y.z, UDP and TCP on one random port."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A
from dnslib.server import DNSLogger, DNSServer

from tests.smtp_servers import loopback_address

# The platform's outbound IPs in tests: documentation addresses (RFC 5737, RFC 3849).
PLATFORM_IPS = ["192.0.2.10", "192.0.2.11", "2001:db8::25"]
ALLOW_PLATFORM = "ip4:192.0.2.10 ip4:192.0.2.11 ip6:2001:db8::25"


def _txt(text: str) -> TXT:
    # A TXT string holds at most 255 bytes; longer records are several strings, joined on read.
    return TXT([text[i : i + 200] for i in range(0, len(text), 200)])


def zone_records() -> dict[tuple[str, str], list]:
    """Return the test zone: SPF, DMARC, MX and A records of several test domains."""
    records: dict[tuple[str, str], list] = {}

    def add(name: str, rtype: str, *values: object) -> None:
        rdatas = records.setdefault((name, rtype), [])
        for value in values:
            if rtype == "TXT":
                rdatas.append(_txt(str(value)))
            elif rtype == "MX":
                preference, host = value  # type: ignore[misc]
                rdatas.append(MX(host, preference))
            elif rtype == "A":
                rdatas.append(A(str(value)))
            else:
                rdatas.append(AAAA(str(value)))

    add("pass.test", "TXT", f"v=spf1 {ALLOW_PLATFORM} -all", "google-site-verification=x1")
    add("pass.test", "MX", (10, "mx.zone.eu"))
    add("fail.test", "TXT", "v=spf1 ip4:198.51.100.7 -all")
    add("_dmarc.fail.test", "TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@fail.test")
    add("fail.test", "MX", (1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com"))
    add("softfail.test", "TXT", "v=spf1 include:_spf.google.com ~all")
    add("_spf.google.com", "TXT", "v=spf1 ip4:203.0.113.0/24 ~all")
    add("softfail.test", "MX", (0, "softfail-test.mail.protection.outlook.com"))
    add("neutral.test", "TXT", "v=spf1 ?all")
    add("_dmarc.neutral.test", "TXT", "v=DMARC1; p=none")
    # include chains and redirect
    add("chain.test", "TXT", "v=spf1 include:_spf.chain1.test -all")
    add("_spf.chain1.test", "TXT", "v=spf1 ip4:198.51.100.7 include:_spf.chain2.test ~all")
    add("_spf.chain2.test", "TXT", f"v=spf1 {ALLOW_PLATFORM} -all")
    add("redirect.test", "TXT", "v=spf1 redirect=_spf.target.test")
    add("_spf.target.test", "TXT", "v=spf1 a:out.target.test mx -all")
    add("out.target.test", "A", "192.0.2.10", "192.0.2.11")
    add("_spf.target.test", "MX", (10, "mx.target.test"))
    add("mx.target.test", "AAAA", "2001:db8::25")
    add("badredirect.test", "TXT", "v=spf1 redirect=nothing.test")
    add("cidr.test", "TXT", "v=spf1 a:net.cidr.test/24 a:net.cidr.test//64 -all")
    add("net.cidr.test", "A", "192.0.2.200")
    add("net.cidr.test", "AAAA", "2001:db8::1")
    # eleven includes: the eleventh lookup breaks the limit
    add(
        "toomany.test",
        "TXT",
        "v=spf1 " + " ".join(f"include:l{i}.toomany.test" for i in range(1, 12)) + " -all",
    )
    for i in range(1, 12):
        add(f"l{i}.toomany.test", "TXT", "v=spf1 ?all")
    add("loop.test", "TXT", "v=spf1 include:loop.test -all")
    add("nospf.test", "TXT", "google-site-verification=abc")
    add("twospf.test", "TXT", "v=spf1 -all", "v=spf1 ~all")
    add("syntax.test", "TXT", "v=spf1 ip4:not-an-ip -all")
    # DMARC at the organisational domain only, with a subdomain policy
    add("sub.orgdmarc.test", "TXT", f"v=spf1 {ALLOW_PLATFORM} -all")
    add("_dmarc.orgdmarc.test", "TXT", "v=DMARC1; p=quarantine; sp=reject")
    # providers from MX
    add("google.test", "MX", (1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com"))
    add("m365.test", "MX", (0, "m365-test.mail.protection.outlook.com"))
    add("zone.test", "MX", (10, "mx.zone.eu"), (20, "mx2.zone.eu"))
    add("telia.test", "MX", (10, "mx1.mail.ee"))
    add("own.test", "MX", (10, "mail.own.test"))
    return records


class ZoneResolver:
    """dnslib resolver over a dict; names in `servfail` answer SERVFAIL."""

    def __init__(self, records: dict[tuple[str, str], list], servfail: Iterable[str]) -> None:
        self.records = records
        self.names = {name for name, _ in records}
        self.servfail = set(servfail)
        self.queries: list[tuple[str, str]] = []

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((qname, qtype))
        if qname in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        for rdata in self.records.get((qname, qtype), []):
            reply.add_answer(RR(qname, request.q.qtype, rdata=rdata, ttl=60))
        if qname not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@dataclass
class LocalDns:
    """A running test DNS server and a silent one (for timeouts)."""

    address: str
    port: int
    resolver: ZoneResolver
    silent_address: str
    silent_port: int
    _servers: list[DNSServer] = field(default_factory=list)
    _silent: socket.socket | None = None

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def silent_nameserver(self) -> str:
        return f"{self.silent_address}:{self.silent_port}"

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
        if self._silent is not None:
            self._silent.close()


def local_dns_start() -> LocalDns:
    """Start the zone on UDP and TCP (same port) and a UDP socket that never answers."""
    resolver = ZoneResolver(zone_records(), servfail={"servfail.test"})
    quiet = DNSLogger("-request,-reply,-truncated,-error")
    for _attempt in range(20):
        address = loopback_address()
        udp = DNSServer(resolver, address=address, port=0, logger=quiet)
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(resolver, address=address, port=port, tcp=True, logger=quiet)
        except OSError:
            udp.server.server_close()
            continue
        break
    else:  # pragma: no cover
        raise RuntimeError("no free loopback port for the test DNS server")
    for server in (udp, tcp):
        server.start_thread()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((loopback_address(), 0))
    silent_address, silent_port = silent.getsockname()
    return LocalDns(
        address=address,
        port=port,
        resolver=resolver,
        silent_address=silent_address,
        silent_port=silent_port,
        _servers=[udp, tcp],
        _silent=silent,
    )
