"""The client's address: the one rule every part of Passbridge uses (sign-in limits, the sign-in log,
audit, Graph principals, the access log).

Behind a reverse proxy the TCP peer is the proxy, and the address that matters is in the headers the
proxy adds. Those headers are believed only from a peer listed in PASSBRIDGE_TRUSTED_PROXIES (none by
default), and only as far as the chain of trusted proxies goes: the list is read from the right (the
entry the nearest proxy appended) and the first address that is not a trusted proxy is the client.
Anything a client put further left is its own claim and is never read. An entry that cannot be read
stops the walk at the last address known to be genuine, so a malformed header never fails a request
and never lets a client choose its address.

X-Forwarded-For is what nginx, Caddy, HAProxy and cloud load balancers set, so it is used when present;
RFC 7239's Forwarded only when it is absent. A proxy that writes only Forwarded must therefore drop any
X-Forwarded-For a client sends (docs/architecture.md, "Client address").

`ClientAddress` applies the rule once per request by rewriting the ASGI scope's `client`, so
`request.client` and uvicorn's access line both carry the resolved address. uvicorn's own proxy-header
handling is off (`passbridge serve`), so there is one rule, this one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# More hops than any real chain of proxies; a longer list is a client's padding and is not walked.
MAX_HOPS = 32


def parse_address(value: str) -> Address | None:
    """An address as proxies write it: bare IPv4 or IPv6, `[v6]`, `[v6]:port` or `v4:port`; IPv4-mapped
    IPv6 as the IPv4 address it carries. None for anything else (`unknown`, `_hidden`, garbage)."""
    text = value.strip().strip('"').strip()
    if text.startswith("["):
        text, closed, _ = text[1:].partition("]")
        if not closed:
            return None
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_for(values: Iterable[str]) -> list[str]:
    """The `for=` of each element of RFC 7239 Forwarded headers, in order; an element without one
    yields "" (unreadable, which stops the walk there)."""
    hops: list[str] = []
    for value in values:
        element: list[str] = []
        quoted = False
        pieces: list[str] = []
        for char in value:
            if char == '"':
                quoted = not quoted
            if char == "," and not quoted:
                pieces.append("".join(element))
                element = []
            else:
                element.append(char)
        pieces.append("".join(element))
        for piece in pieces:
            found = ""
            for pair in piece.split(";"):
                name, _, token = pair.partition("=")
                if name.strip().lower() == "for":
                    found = token
            hops.append(found)
    return hops


def _x_forwarded_for(values: Iterable[str]) -> list[str]:
    return [hop for value in values for hop in value.split(",")]


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def resolve(
    peer: str | None, headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[Network]
) -> str | None:
    """The client's address for a request from `peer` carrying `headers` (raw ASGI pairs)."""
    if peer is None or not trusted:
        return peer
    current = parse_address(peer)
    if current is None or not _trusted(current, trusted):
        return peer
    xff: list[str] = []
    forwarded: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            xff.append(value.decode("latin-1"))
        elif name == b"forwarded":
            forwarded.append(value.decode("latin-1"))
    hops = _x_forwarded_for(xff) if xff else _forwarded_for(forwarded)
    for hop in list(reversed(hops))[:MAX_HOPS]:
        address = parse_address(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)


class ClientAddress:
    """ASGI middleware: puts the resolved client address in the scope's `client` (port 0 when it came
    from a header). Without trusted proxies it passes every request through untouched."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            peer = client[0] if client else None
            address = resolve(peer, scope["headers"], self.trusted)
            if address is not None and address != peer:
                scope["client"] = (address, 0)
        await self.app(scope, receive, send)
