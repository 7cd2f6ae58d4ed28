"""A real SMTP server for tests: aiosmtpd on a free local port, keeping what it received.

It can refuse the first N messages with 451 (a temporary failure, as a greylisting server does) or
every message to one address with 550, ask for AUTH LOGIN/PLAIN, and speak STARTTLS or TLS from the
start with a throwaway certificate (`TlsFiles`), whose CA file the client trusts through `cafile=`.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import free_port


@dataclass
class Inbox:
    """The server's handler: counts every DATA it was offered and keeps what it accepted."""

    refuse_first: int = 0
    refuse_permanently: frozenset[str] = frozenset()
    offered: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.offered += 1
            if self.offered <= self.refuse_first:
                return "451 4.7.1 Greylisted, try again later"
            if set(envelope.rcpt_tos) & self.refuse_permanently:
                return "550 5.1.1 No such mailbox here"
            raw = envelope.original_content or b""
            self.received.append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """Block until `count` messages arrived (the server runs in its own thread); then them all."""
        return self.wait_until(lambda received: len(received) >= count, f"{count} mail(s)", timeout)

    def wait_until(
        self, done: Callable[[list[EmailMessage]], bool], what: str, timeout: float = 20.0
    ) -> list[EmailMessage]:
        """Block until what was received satisfies `done`; then every message received."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: done(self.received), timeout):
                raise AssertionError(f"expected {what}, got {len(self.received)} mail(s) in {timeout}s")
            return list(self.received)


@dataclass(frozen=True)
class TlsFiles:
    certfile: Path
    keyfile: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        return context


def make_tls_files(directory: Path) -> TlsFiles:
    """A self-signed certificate for localhost and 127.0.0.1 (it is its own CA file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certfile, keyfile = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return TlsFiles(certfile, keyfile)


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    url: str


class _Accounts:
    """AUTH: one user name and password."""

    def __init__(self, inbox: Inbox, user: str, password: str) -> None:
        self.inbox, self.user, self.password = inbox, user, password

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
        if given == (self.user, self.password):
            self.inbox.logins.append(self.user)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@contextmanager
def smtp_server(
    *,
    refuse_first: int = 0,
    refuse_permanently: frozenset[str] = frozenset(),
    auth: tuple[str, str] | None = None,
    starttls: TlsFiles | None = None,
    implicit_tls: TlsFiles | None = None,
) -> Iterator[SmtpServer]:
    """A running server and the PASSBRIDGE_SMTP_URL that reaches it."""
    inbox = Inbox(refuse_first=refuse_first, refuse_permanently=refuse_permanently)
    port = free_port()
    options: dict[str, Any] = {}
    if auth is not None:
        # Over plain SMTP, AUTH is offered but not demanded (aiosmtpd warns at every connection that
        # demands it without TLS); `Inbox.logins` shows the login happened.
        options.update(
            authenticator=_Accounts(inbox, *auth),
            auth_required=starttls is not None,
            auth_require_tls=starttls is not None,
        )
    if starttls is not None:
        options.update(tls_context=starttls.server_context(), require_starttls=True)
    if implicit_tls is not None:
        options["ssl_context"] = implicit_tls.server_context()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **options)
    controller.start()
    credentials = f"{auth[0]}:{auth[1]}@" if auth else ""
    if implicit_tls is not None:
        url = f"smtps://{credentials}localhost:{port}?cafile={implicit_tls.certfile}"
    elif starttls is not None:
        url = f"smtp://{credentials}localhost:{port}?starttls=1&cafile={starttls.certfile}"
    else:
        url = f"smtp://{credentials}127.0.0.1:{port}"
    try:
        yield SmtpServer(inbox, port, url)
    finally:
        controller.stop()
