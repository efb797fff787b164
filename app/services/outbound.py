"""Requests Lastmile makes to addresses people typed (webhooks): public internet addresses only.

A URL's host is resolved and every address it names must be public: loopback, private, link-local,
multicast, reserved and unspecified addresses (IPv4 and IPv6, IPv4-mapped and 6to4 forms included) are
refused, unless an admin allowed a range on purpose (`outbound_allow_networks`). The check runs when the
URL is saved and again when it is used, and the request then goes to the address that was checked (DNS
can change in between), with no redirects followed and short timeouts.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from app.settings import get_settings

TIMEOUT = httpx.Timeout(5.0, connect=3.0)
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(ValueError):
    """A URL Lastmile will not call; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """A checked URL: the host as typed and the address the request must go to."""

    url: str
    host: str
    address: Address


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped ::ffff:a.b.c.d, 6to4 2002::/16, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def is_public(address: Address) -> bool:
    """Whether an address is on the public internet (judged by the IPv4 it carries, when it carries one)."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return is_public(inner)
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def _resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(
            f"Lastmile cannot find the server “{host}” (its name does not resolve from this server). "
            "Check the address."
        ) from exc
    # Scope ids (fe80::1%eth0) are not part of the address itself.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_url(url: str) -> Target:
    """The Target of an http(s) URL whose host is public; OutboundRefused saying why otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(f"The address must start with https:// (or http://); it is {url[:200]!r}.")
    if parts.username or parts.password:
        raise OutboundRefused("Put no user name or password in the address; use a token in its path instead.")
    host = parts.hostname
    addresses = _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    allowed = get_settings().outbound_networks
    for address in addresses:
        if not is_public(address) and not any(address in network for network in allowed):
            raise OutboundRefused(
                f"“{host}” is an internal address ({address}): Lastmile only calls servers on the public "
                "internet. An admin can allow an internal range with LASTMILE_OUTBOUND_ALLOW_NETWORKS."
            )
    return Target(url, host, addresses[0])


def post_json(url: str, body: dict) -> httpx.Response:
    """POST `body` to `url` after checking it again, to the address just checked; redirects not followed."""
    target = check_url(url)
    parts = urlsplit(url)
    literal = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    # The connection goes to the checked address; Host and TLS (SNI and the certificate check) still name
    # the host, so a later DNS answer cannot send it elsewhere.
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
    extensions = {"sni_hostname": target.host} if parts.scheme == "https" else {}
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        request = client.build_request("POST", pinned, json=body, headers=headers, extensions=extensions)
        return client.send(request)
