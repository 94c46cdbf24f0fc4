"""Webhook URL checks against server-side request forgery.

A partner URL is checked when it is saved and again before every delivery (a name may resolve
somewhere else tomorrow: DNS rebinding). The host is resolved, and the URL is refused if ANY
address is not globally routable (loopback, private, link-local, multicast, reserved,
unspecified, shared address space, or an IPv4-mapped IPv6 form of one of those), unless the
host or address is on the settings allowlist. The delivery then connects to the address that
was checked, never resolving again.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.errors import InvalidInput

MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Sequence[Any]]


class UnsafeWebhookUrl(InvalidInput):
    """The URL is malformed, not https in production, or reaches an internal address."""

    type_slug = "unsafe-webhook-url"
    title = "This webhook URL cannot be used"


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    url: str
    scheme: str
    host: str  # as written (for the Host header and TLS server name)
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]  # every resolved address, all checked

    @property
    def address(self) -> str:
        """The address a delivery connects to (checked above)."""
        return self.addresses[0]


def parse_allowlist(
    raw: str,
) -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """Split the allowlist setting into host names and networks (single addresses included)."""
    names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            names.add(item.lower().rstrip("."))
    return names, networks


def is_internal(ip: IPAddress) -> bool:
    """True for any address a partner webhook must not reach."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None and is_internal(mapped):
            return True
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _refuse(detail: str) -> UnsafeWebhookUrl:
    return UnsafeWebhookUrl(detail, errors={"url": [detail]})


def check_webhook_url(
    url: str,
    *,
    allowlist: str,
    production: bool,
    resolver: Resolver = socket.getaddrinfo,
) -> CheckedUrl:
    """Parse, resolve and check ``url``; raises :class:`UnsafeWebhookUrl` when refused."""
    if len(url) > MAX_URL_LENGTH:
        raise _refuse("The URL is too long.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("The URL is not valid.") from None
    scheme = parts.scheme.lower()
    allowed_schemes = ("https",) if production else ("https", "http")
    if scheme not in allowed_schemes:
        raise _refuse("Webhook URLs must use https.")
    if parts.username or parts.password:
        raise _refuse("Webhook URLs must not carry credentials.")
    if parts.fragment:
        raise _refuse("Webhook URLs must not have a fragment.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise _refuse("The URL has no host.")
    port = port or (443 if scheme == "https" else 80)
    names, networks = parse_allowlist(allowlist)
    addresses = _resolve(host, port, resolver)
    for ip in addresses:
        allowed = host in names or any(ip in net for net in networks)
        if is_internal(ip) and not allowed:
            raise _refuse("Webhook URLs must reach a public address.")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return CheckedUrl(url, scheme, host, port, target, tuple(str(ip) for ip in addresses))


def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = resolver(host, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _refuse("The URL's host does not resolve.") from None
    addresses: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        try:
            ip = ipaddress.ip_address(raw)
        except ValueError:
            raise _refuse("The URL's host resolves to something unexpected.") from None
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise _refuse("The URL's host does not resolve.")
    return addresses
