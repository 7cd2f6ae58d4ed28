"""PASSBRIDGE_SMTP_URL read into where and how to send: pure, no I/O (config.py validates with it).

`smtp://host[:port]` sends in the clear (port 25), `smtp://host:587?starttls=1` upgrades with STARTTLS
(587 when no port is given), `smtps://host[:port]` speaks TLS from the start (465). `user:password@`
logs in; both are URL-decoded (`%40` for @). `cafile=PATH` trusts that CA bundle instead of the system's.
The password is never part of an error message or a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

Security = Literal["plain", "starttls", "tls"]
DEFAULT_PORTS: dict[Security, int] = {"plain": 25, "starttls": 587, "tls": 465}
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class SmtpUrlError(ValueError):
    """The URL cannot be used; the message never quotes the URL (it may hold a password)."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    def describe(self) -> str:
        """Where mail goes, for logs and pages: never the password."""
        who = f"{self.username}@" if self.username else ""
        return f"{self.security} {who}{self.host}:{self.port}"


def parse_smtp_url(value: str) -> SmtpTarget:
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        # urlsplit's message would quote the netloc, password and all.
        raise SmtpUrlError(
            "must look like smtp://host:25, smtp://host:587?starttls=1 or smtps://host:465"
        ) from None
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpUrlError("must start with smtp:// or smtps://")
    if not parts.hostname:
        raise SmtpUrlError("names no host (smtp://host:port)")
    if parts.path not in ("", "/") or parts.fragment:
        raise SmtpUrlError("must not carry a path or fragment; options go in the query (?starttls=1)")
    starttls = False
    cafile: str | None = None
    try:
        options = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise SmtpUrlError("has an unreadable query; options are starttls=1 and cafile=PATH") from None
    for name, option in options:
        if name == "starttls" and option.lower() in TRUE + FALSE:
            starttls = option.lower() in TRUE
        elif name == "cafile" and option:
            cafile = option
        else:
            raise SmtpUrlError(f"has an unknown option {name!r}; options are starttls=1 and cafile=PATH")
    if parts.scheme == "smtps" and starttls:
        raise SmtpUrlError("smtps:// is TLS from the start; starttls=1 belongs to smtp://")
    security: Security = "tls" if parts.scheme == "smtps" else ("starttls" if starttls else "plain")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise SmtpUrlError("has a password but no user name (smtp://user:password@host)")
    return SmtpTarget(
        host=parts.hostname,
        port=port or DEFAULT_PORTS[security],
        security=security,
        username=username,
        password=password,
        cafile=cafile,
    )
