"""Resolving a card's mail server once, and refusing internal addresses (no network probing)."""

from __future__ import annotations

import ipaddress
import socket

from django.conf import settings

from mailer.exceptions import Step, delivery_error


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def mail_host_resolve(*, host: str, port: int) -> str:
    """Return the one address to connect to; refuse private, loopback, link-local, multicast.

    The transport then connects to this checked address (verifying TLS against the host name),
    so a second DNS answer cannot swap in an internal address.
    """
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        candidates = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise delivery_error(
                "host_not_found", step=Step.CONNECT, host=host, port=port, detail=str(exc)
            ) from None
        candidates = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not candidates:
        raise delivery_error(
            "host_not_found", step=Step.CONNECT, host=host, port=port, detail="no address"
        )
    if settings.MAILER_ALLOW_PRIVATE_HOSTS:
        return str(candidates[0])
    for candidate in candidates:
        if not _is_internal(candidate):
            return str(candidate)
    raise delivery_error(
        "host_not_allowed",
        step=Step.CONNECT,
        host=host,
        port=port,
        transient=False,
        detail=str(candidates[0]),
    )
