"""`passbridge serve --certfile/--keyfile` terminates TLS itself. Microsoft's azure-identity refuses any
http:// authority, so a Graph script built on `ClientSecretCredential` works only against HTTPS: here,
exactly that script, against a real server with a certificate from a CA made for the test, trusted
through `connection_verify` (azure-identity) and an SSL context (msgraph-sdk's httpx client)."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import httpx
import pytest
import uvicorn
from azure.identity import ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.temporary_access_pass_authentication_method import (
    TemporaryAccessPassAuthenticationMethod,
)
from msgraph_core import GraphClientFactory

from passbridge.config import Settings
from tests.cli.test_cli import cli
from tests.servers import PASSBRIDGE, TEST_PEPPER, free_port

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate clients trust
    cert: Path  # the leaf for localhost, signed by the CA
    key: Path  # the leaf's private key
    other_key: Path  # a key that does not belong to the leaf


def _pem_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def make_pki(directory: Path) -> Pki:
    """A CA and a leaf for localhost with the extensions strict verifiers want (SAN, EKU, key ids)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Passbridge test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return Pki(
        ca=directory / "ca.pem",
        cert=directory / "cert.pem",
        key=_pem_key(leaf_key, directory / "key.pem"),
        other_key=_pem_key(ec.generate_private_key(ec.SECP256R1()), directory / "other-key.pem"),
    )


@contextmanager
def serving_https(environ: dict[str, str], port: int, pki: Pki, log: Path) -> Iterator[None]:
    """`passbridge serve --certfile --keyfile` on `port`, answering /readyz over verified TLS."""
    trusted = ssl.create_default_context(cafile=str(pki.ca))
    command = [
        str(PASSBRIDGE),
        "serve",
        "--port",
        str(port),
        "--certfile",
        str(pki.cert),
        "--keyfile",
        str(pki.key),
    ]
    with log.open("w") as sink:
        proc = subprocess.Popen(command, env=environ, text=True, stdout=sink, stderr=sink)
        try:
            for _ in range(150):
                assert proc.poll() is None, log.read_text()
                try:
                    if httpx.get(f"https://localhost:{port}/readyz", verify=trusted, timeout=1).is_success:
                        break
                except httpx.TransportError:
                    pass
                asyncio.run(asyncio.sleep(0.2))
            else:
                raise AssertionError(f"https://localhost:{port}/readyz never answered: {log.read_text()}")
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _run(environ: dict[str, str], *args: str) -> dict[str, str]:
    done = subprocess.run([str(PASSBRIDGE), *args, "--json"], env=environ, check=True, capture_output=True)
    return dict(json.loads(done.stdout))


async def _issue_pass(
    credential: ClientSecretCredential, base_url: str, ca: Path
) -> TemporaryAccessPassAuthenticationMethod | None:
    """msgraph-sdk, as a script would set it up, with only the base URL and the trusted CA changed."""
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE], allowed_hosts=["localhost"])
    trusted = ssl.create_default_context(cafile=str(ca))
    # No keep-alive: the SDK's middleware transport outlives `async with`, and an open connection would
    # hold the server's graceful shutdown until this process exits.
    async with httpx.AsyncClient(verify=trusted, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        adapter = GraphRequestAdapter(
            auth, client=GraphClientFactory.create_with_default_middleware(client=http)
        )
        adapter.base_url = base_url
        client = GraphServiceClient(request_adapter=adapter)
        methods = client.users.by_user_id("ada@contoso.example").authentication.temporary_access_pass_methods
        return await methods.post(TemporaryAccessPassAuthenticationMethod(lifetime_in_minutes=60))


def test_a_graph_script_on_azure_identity_issues_a_pass_over_https(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    port = free_port()
    authority = f"localhost:{port}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    environ.update(
        PASSBRIDGE_DATA_DIR=str(tmp_path / "data"),
        PASSBRIDGE_PEPPER=TEST_PEPPER,
        PASSBRIDGE_BASE_URL=f"https://{authority}",
    )
    tenant_id = _run(environ, "init", "--admin", "admin@contoso.example")["tenantId"]
    script = _run(
        environ, "app", "add", "HR script", "--permission", "UserAuthenticationMethod.ReadWrite.All"
    )
    subprocess.run([str(PASSBRIDGE), "user", "add", "ada@contoso.example"], env=environ, check=True)

    # The premise: azure-identity will not talk to a plain-HTTP authority at all.
    with pytest.raises(ValueError, match="https"):
        ClientSecretCredential(
            tenant_id, script["clientId"], script["clientSecret"], authority=f"http://{authority}"
        )

    with serving_https(environ, port, pki, tmp_path / "server.log"):
        credential = ClientSecretCredential(
            tenant_id,
            script["clientId"],
            script["clientSecret"],
            # With its scheme: azure-identity reads the "localhost" of a bare "localhost:PORT" as one.
            authority=f"https://{authority}",
            disable_instance_discovery=True,
            connection_verify=str(pki.ca),
        )
        with credential:  # its keep-alive connection would hold the server's graceful shutdown
            token = credential.get_token(GRAPH_SCOPE)
            assert token.token.count(".") == 2 and token.expires_on > datetime.now(UTC).timestamp()
            created = asyncio.run(_issue_pass(credential, f"https://{authority}/v1.0", pki.ca))
        assert created is not None and created.temporary_access_pass and created.lifetime_in_minutes == 60

        # Plain HTTP on the TLS port gets nowhere: the server speaks only TLS there.
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://{authority}/readyz", timeout=5)


@pytest.fixture
def pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pki:
    """The files, for tests that expect `serve` to stop before serving: should it go on, it fails
    instead of serving in this process for ever."""

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("serve went on to start the server")

    monkeypatch.setattr(uvicorn, "run", never)
    return make_pki(tmp_path)


def _serve_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = cli(capsys, "serve", *args)
    assert (code, out) == (1, ""), err
    assert err.startswith("passbridge: error: ") and err.count("\n") == 1, err
    return err


def test_a_missing_certificate_is_one_line_naming_it(
    cli_env: Settings, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.pem"
    assert str(missing) in _serve_error(capsys, "--certfile", str(missing), "--keyfile", str(pki.key))
    assert str(missing) in _serve_error(capsys, "--certfile", str(pki.cert), "--keyfile", str(missing))


def test_the_settings_name_the_files_as_the_options_do(
    cli_env: Settings,
    pki: Pki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = tmp_path / "from-env.pem"
    monkeypatch.setenv("PASSBRIDGE_TLS_CERTFILE", str(missing))
    monkeypatch.setenv("PASSBRIDGE_TLS_KEYFILE", str(pki.key))
    assert str(missing) in _serve_error(capsys)


def test_a_key_that_is_not_the_certificates_is_one_line(
    cli_env: Settings, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _serve_error(capsys, "--certfile", str(pki.cert), "--keyfile", str(pki.other_key))
    assert str(pki.cert) in err and "could not be loaded" in err


def test_a_file_that_is_no_certificate_is_one_line(
    cli_env: Settings, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    assert "could not be loaded" in _serve_error(
        capsys, "--certfile", str(garbage), "--keyfile", str(pki.key)
    )


def test_a_key_without_a_certificate_is_one_line(
    cli_env: Settings, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--keyfile needs --certfile" in _serve_error(capsys, "--keyfile", str(pki.key))
