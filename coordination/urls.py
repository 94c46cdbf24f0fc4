"""Webhook URL checks against server-side request forgery.

A partner URL is checked when it is saved and again before every delivery (a name may resolve
somewhere else tomorrow: DNS rebinding). The host is resolved, and the URL is refused if ANY
address is not globally routable (loopback, private, link-local, multicast, reserved,
unspecified, shared address space, or an IPv4-mapped IPv6 form of one of those), unless an
allowlist entry names that host or address AND the port. The delivery then connects to the
address that was checked, never resolving again.

The allowlist (``LANTERN_WEBHOOK_ALLOWLIST``) holds comma-separated entries: a host name, an
address or a network, each optionally with a port (``hooks.internal:8443``, ``10.0.0.5:9000``,
``[fd00::5]:9000``, ``10.1.0.0/16:443``). An entry without a port opens only 80 and 443: naming
an address must not open its SSH, database or admin ports.

The service itself is never a webhook target, allowlisted or not (a signed POST to its own
API, or to the proxy in front of it, is a request forgery in the service's own voice). What
this process knows of itself: the host and port of ``LANTERN_PUBLIC_BASE_URL`` (required in
production; ``make run`` and the test stacks set it to the address they bind) and, when an
admin saves a URL, the local address and port the request arrived on (the socket the app
server is bound to; a worker delivering later has no socket, so such a URL was refused when
it was saved). At any of those ports a loopback or unspecified address is refused too: on this
machine it is the app or its proxy. The public host is compared by name, not by the addresses
it resolves to: another name for the same address fails the TLS certificate check that
production's https requires, and comparing addresses would refuse a partner that shares a
CDN's addresses with the service.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.errors import ConfigurationError, InvalidInput
from core.settings import Settings

MAX_URL_LENGTH = 2000
DEFAULT_PORTS = frozenset({80, 443})
SETTING = "LANTERN_WEBHOOK_ALLOWLIST"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., Sequence[Any]]
Endpoint = tuple[str, int]  # a host name or address, and a port


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


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One allowlist entry: a host name or a network, and the ports it opens."""

    name: str | None
    network: IPNetwork | None
    ports: frozenset[int]

    def allows(self, host: str, ip: IPAddress, port: int) -> bool:
        if port not in self.ports:
            return False
        if self.name is not None:
            return host == self.name
        return self.network is not None and ip in self.network


def _port(text: str, item: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigurationError(f"{SETTING}: {item!r} has no valid port (1-65535)")
    return int(text)


def _parse_entry(item: str) -> AllowEntry:
    ports: frozenset[int] = DEFAULT_PORTS
    host = item
    if item.startswith("["):  # [IPv6 address or network], optionally :port
        end = item.find("]")
        if end < 0:
            raise ConfigurationError(f"{SETTING}: {item!r} has an unclosed '['")
        host, rest = item[1:end], item[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ConfigurationError(f"{SETTING}: {item!r} is not [address]:port")
            ports = frozenset({_port(rest[1:], item)})
    elif item.count(":") == 1:  # name:port, address:port or network:port
        host, raw_port = item.split(":")
        ports = frozenset({_port(raw_port, item)})
    # More than one colon without brackets: a bare IPv6 address or network.
    if not host:
        raise ConfigurationError(f"{SETTING}: {item!r} names no host")
    try:
        return AllowEntry(None, ipaddress.ip_network(host, strict=False), ports)
    except ValueError:
        pass
    name = host.lower().rstrip(".")
    if ":" in name or "/" in name or not name:
        raise ConfigurationError(f"{SETTING}: {item!r} is not a host, address or network")
    return AllowEntry(name, None, ports)


def parse_allowlist(raw: str) -> tuple[AllowEntry, ...]:
    """The allowlist setting as entries; raises ConfigurationError for a malformed one."""
    return tuple(_parse_entry(item) for item in (p.strip() for p in raw.split(",")) if item)


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


def _local(ip: IPAddress) -> bool:
    """Loopback or unspecified, also in IPv4-mapped form: this machine."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def own_endpoints(public_base_url: str) -> tuple[Endpoint, ...]:
    """The service's own public host and port, from ``LANTERN_PUBLIC_BASE_URL``."""
    if not public_base_url:
        return ()
    try:
        parts = urlsplit(public_base_url)
        port = parts.port
    except ValueError:
        return ()
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return ()
    return ((host, port or (443 if parts.scheme.lower() == "https" else 80)),)


def _refuse(detail: str) -> UnsafeWebhookUrl:
    return UnsafeWebhookUrl(detail, errors={"url": [detail]})


def check_webhook_url(
    url: str,
    *,
    allowlist: str,
    production: bool,
    own: Iterable[Endpoint] = (),
    resolver: Resolver = socket.getaddrinfo,
) -> CheckedUrl:
    """Parse, resolve and check ``url``; raises :class:`UnsafeWebhookUrl` when refused.

    ``own`` names the service's own endpoints (host or address, port): never a target."""
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
    try:
        entries = parse_allowlist(allowlist)
    except ConfigurationError:
        entries = ()  # refused at start-up; here a broken list opens nothing
    addresses = _resolve(host, port, resolver)
    if _is_own(host, port, addresses, own):
        raise _refuse("Webhook URLs must not point at this service.")
    for ip in addresses:
        if is_internal(ip) and not any(e.allows(host, ip, port) for e in entries):
            raise _refuse("Webhook URLs must reach a public address.")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return CheckedUrl(url, scheme, host, port, target, tuple(str(ip) for ip in addresses))


def check_for_settings(
    url: str, settings: Settings, resolver: Resolver, *, served_at: Iterable[Endpoint] = ()
) -> CheckedUrl:
    """:func:`check_webhook_url` with the allowlist and own address from ``settings`` (the one
    check used both when a URL is saved and before each delivery)."""
    return check_webhook_url(
        url,
        allowlist=settings.webhook_allowlist,
        production=settings.is_production,
        own=(*own_endpoints(settings.public_base_url), *served_at),
        resolver=resolver,
    )


def _is_own(host: str, port: int, addresses: Sequence[IPAddress], own: Iterable[Endpoint]) -> bool:
    for own_host, own_port in own:
        if own_port != port:
            continue
        own_host = own_host.lower().rstrip(".")
        if host == own_host or any(_local(ip) for ip in addresses):
            return True
        try:
            own_ip = ipaddress.ip_address(own_host)
        except ValueError:
            continue  # a name is compared as a name (see the module's docstring)
        if own_ip in addresses:
            return True
    return False


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
