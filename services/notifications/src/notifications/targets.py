"""Where a webhook may point: public hosts only, outside development.

A URL whose host resolves to a loopback, private, link-local (cloud metadata), multicast,
reserved or unspecified address would let a subscriber make the service call into its own
network (SSRF). It is refused when subscribing and checked again before every delivery,
since DNS can change in between. ``AZL_WEBHOOK_ALLOW_PRIVATE_TARGETS`` (development and the
test suite, whose receiver runs on 127.0.0.1) turns the check off.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from azl_kit.errors import ValidationFailed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateWebhookTarget(ValidationFailed):
    pass


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


async def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (an IP literal is its own); none if unresolvable."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def refusal(url: str) -> str | None:
    """Why ``url`` may not be called, or None when every address of its host is public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    private = [str(a) for a in await resolve(host, port) if not is_public(a)]
    if private:
        return (
            f"webhook host {host} resolves to a loopback, private or link-local address "
            f"({', '.join(sorted(set(private)))}); only public hosts may be called"
        )
    return None


async def check_subscribable(url: str) -> None:
    reason = await refusal(url)
    if reason is not None:
        raise PrivateWebhookTarget(reason, url=url)
