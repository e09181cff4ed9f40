"""Resolving a card's mail server once, and refusing internal addresses (no network probing)."""

from __future__ import annotations

import ipaddress
import re
import socket

from django.conf import settings

from mailer.causes import MailCause
from mailer.exceptions import Step, delivery_error

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052, the IPv4 address in the last 32 bits
# RFC 8215 local-use NAT64: each operator picks its own prefix length inside it, so the embedded
# IPv4 address cannot be read reliably; it only ever reaches a local translator, so it is refused.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 (deprecated), includes :: and ::1
_IPV4_NUMBERS = re.compile(r"[0-9a-fA-FxX.]+")


def _ipv4_internal(address: ipaddress.IPv4Address) -> bool:
    # `is_global` already excludes most of these (and 100.64.0.0/10); the explicit flags keep the
    # rule independent of Python's changing special-purpose tables (multicast counts as global).
    return not address.is_global or any(
        (
            address.is_private,
            address.is_loopback,
            address.is_link_local,
            address.is_multicast,
            address.is_reserved,
            address.is_unspecified,
        )
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """Return the IPv4 addresses an IPv6 address stands for, or None for a plain IPv6 address."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # (server, client), the client already de-obfuscated
    return None


def _is_internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_internal(address)
    if address.is_multicast or address.is_unspecified or address.is_loopback:
        return True
    if address.is_link_local or address.is_site_local or address in _NAT64_LOCAL:
        return True
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        # These blocks exist only to carry an IPv4 address: ipaddress calls most of them
        # non-global, which says nothing about the target; the IPv4 rules decide, so a private
        # target is refused exactly as its IPv4 form is, and a public one is allowed.
        return any(_ipv4_internal(ipv4) for ipv4 in embedded)
    return not address.is_global or address.is_private or address.is_reserved


def _literal(host: str) -> IPAddress | None:
    """Return the address an IP literal names (no lookup), or None for a host name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _IPV4_NUMBERS.fullmatch(host):
        return None
    try:
        # The system resolver also reads inet_aton's forms (2130706433, 0x7f.1, 017700000001,
        # 127.1) as IPv4 without asking DNS; reading them here decides them without a lookup.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def mail_host_resolve(*, host: str, port: int) -> str:
    """Return the one address to connect to; refuse internal addresses in any spelling.

    The transport then connects to this checked address (verifying TLS against the host name),
    so a second DNS answer cannot swap in an internal address.
    """
    literal = _literal(host)
    if literal is not None:
        candidates = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise delivery_error(
                MailCause.HOST_NOT_FOUND, step=Step.CONNECT, host=host, port=port, detail=str(exc)
            ) from None
        candidates = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not candidates:
        raise delivery_error(
            MailCause.HOST_NOT_FOUND, step=Step.CONNECT, host=host, port=port, detail="no address"
        )
    if settings.MAILER_ALLOW_PRIVATE_HOSTS:
        return str(candidates[0])
    # The check runs on the addresses the connection will use, whatever the spelling of the host.
    for candidate in candidates:
        if not _is_internal(candidate):
            return str(candidate)
    # The message names the host as typed, never what it resolves to: that would map the
    # internal network for whoever may type a server name.
    raise delivery_error(
        MailCause.HOST_NOT_ALLOWED, step=Step.CONNECT, host=host, port=port, transient=False
    )
