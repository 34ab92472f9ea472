"""Where a webhook may send: public addresses only, unless the city lists its own receivers.

A webhook URL's host is resolved (``getaddrinfo``) and EVERY address it gives is checked:
loopback, private, link-local (cloud metadata at 169.254.169.254 among them), shared
(100.64.0.0/10), unspecified, multicast and reserved addresses are refused, IPv4 inside
IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo) is judged as the IPv4 address it carries, and the
numeric spellings a C library takes for an address (``0x7f000001``, ``2130706433``,
``127.1``) are addresses, not names. The check runs when a webhook is made and again before
every delivery, and the delivery connects to the address that was checked, so a name that
resolves somewhere else a moment later (DNS rebinding) gains nothing.

``GRIDGOV_WEBHOOK_ALLOW`` lists the exceptions: CIDRs or addresses (any address inside is
allowed) and host names (allowed whatever they resolve to).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from urllib.parse import urlsplit

from gridgov.errors import FieldError

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], list[str]]  # host, port -> the addresses, as text

_HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?)+", re.I)
_NUMERIC_V4 = re.compile(r"[0-9][0-9a-fA-FxX.]*")


class AddressRefused(FieldError):
    """A webhook URL that may not be called (422 naming ``url``)."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__("url", key, **params)


@dataclass(frozen=True)
class AllowList:
    """The city's own receivers: networks (CIDRs) and host names."""

    networks: tuple[IPv4Network | IPv6Network, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    def allows(self, host: str, address: IPAddress) -> bool:
        """Whether this host or address is listed.

        >>> parse_allow_list("10.8.0.0/16").allows("hooks.lan", ip_address("10.8.1.2"))
        True
        """
        return host in self.hosts or any(
            address.version == net.version and address in net for net in self.networks
        )


@dataclass(frozen=True)
class Target:
    """A checked webhook URL and the address to connect to."""

    url: str
    scheme: str
    host: str  # lower case, without brackets
    port: int
    address: IPAddress
    literal: bool  # the URL names the address itself


def parse_allow_list(text: str) -> AllowList:
    """CIDRs, addresses and host names, separated by commas or spaces.

    >>> parse_allow_list("127.0.0.1, 10.0.0.0/8 hooks.city.lan").hosts
    frozenset({'hooks.city.lan'})
    """
    networks: list[IPv4Network | IPv6Network] = []
    hosts: set[str] = set()
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if not _HOST_NAME.fullmatch(entry) or _NUMERIC_V4.fullmatch(entry):
            raise ValueError(f"{entry!r} in the webhook allow-list is no CIDR, address or name")
        hosts.add(entry.lower().rstrip("."))
    return AllowList(tuple(networks), frozenset(hosts))


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolves the host to (empty when it cannot)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def literal_address(host: str) -> IPAddress | None:
    """The address a host spells out, in any form a C library would take, or None.

    >>> [str(literal_address(h)) for h in ("0x7f000001", "2130706433", "127.1", "[::1]")]
    ['127.0.0.1', '127.0.0.1', '127.0.0.1', '::1']
    >>> literal_address("example.org") is None
    True
    """
    host = host.strip("[]")
    try:
        return ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_V4.fullmatch(host):
        try:
            return IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo), or the address itself.

    >>> str(unwrap(ip_address("::ffff:127.0.0.1")))
    '127.0.0.1'
    """
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


def is_public(address: IPAddress) -> bool:
    """Whether an address is a public unicast one (what a webhook may reach by default).

    >>> [is_public(ip_address(a)) for a in ("8.8.8.8", "169.254.169.254", "::ffff:10.0.0.1")]
    [True, False, False]
    """
    inner = unwrap(address)
    if inner is not address and not is_public(inner):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, IPv6Address) and address.is_site_local)
    )


def check_url(url: str, *, allow: AllowList, resolve: Resolver = system_resolver) -> Target:
    """The URL checked against the address policy, with the address to connect to; or
    AddressRefused naming ``url`` and why."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise AddressRefused("webhook.bad_url", url=url[:200]) from None
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise AddressRefused("webhook.bad_url", url=url[:200])
    port = port or (443 if parts.scheme == "https" else 80)
    literal = literal_address(host)
    if literal is not None:
        found: list[IPAddress] = [literal]
    else:
        found = []
        for text in resolve(host, port):
            try:
                found.append(ip_address(text))
            except ValueError:
                continue
    if not found:
        raise AddressRefused("webhook.unresolvable", host=host)
    addresses = [unwrap(a) for a in found]
    for address in addresses:
        if not (allow.allows(host, address) or is_public(address)):
            raise AddressRefused("webhook.address_refused", host=host, address=str(address))
    return Target(url, parts.scheme, host, port, addresses[0], literal is not None)
