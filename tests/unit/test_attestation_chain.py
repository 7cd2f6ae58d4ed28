"""An attestation certificate chain is trusted only when it ends at a root the administrator gave
(security/webauthn.py `chain_ends_at`): a trust anchor is a name and a key, every certificate must be
valid now, and only CAs issue."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from passbridge.security.webauthn import chain_ends_at

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    days: tuple[int, int] = (-1, 365),
    serial: int = 1,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


ROOT_KEY, MID_KEY, LEAF_KEY, OTHER_KEY = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
ROOT = _cert("Vendor root", ROOT_KEY, "Vendor root", ROOT_KEY, ca=True)
MID = _cert("Vendor CA", MID_KEY, "Vendor root", ROOT_KEY, ca=True)
LEAF = _cert("Key model 5", LEAF_KEY, "Vendor CA", MID_KEY, ca=False)


def test_chain_to_a_trusted_root_is_attested() -> None:
    assert chain_ends_at([_der(LEAF), _der(MID)], (_pem(ROOT),), NOW)


def test_chain_to_another_root_is_not_attested_even_under_the_same_name() -> None:
    impostor = _cert("Vendor root", OTHER_KEY, "Vendor root", OTHER_KEY, ca=True)
    assert not chain_ends_at([_der(LEAF), _der(MID)], (_pem(impostor),), NOW)
    assert not chain_ends_at([_der(LEAF), _der(MID)], (), NOW)


def test_expired_certificate_in_the_chain_is_not_attested() -> None:
    old = _cert("Key model 5", LEAF_KEY, "Vendor CA", MID_KEY, ca=False, days=(-400, -1))
    assert not chain_ends_at([_der(old), _der(MID)], (_pem(ROOT),), NOW)


def test_certificate_issued_by_a_non_ca_is_not_attested() -> None:
    fake_mid = _cert("Vendor CA", MID_KEY, "Vendor root", ROOT_KEY, ca=False)
    assert not chain_ends_at([_der(LEAF), _der(fake_mid)], (_pem(ROOT),), NOW)


def test_reissued_self_signed_attestation_certificate_stays_trusted_by_name_and_key() -> None:
    # What Chromium's virtual authenticator (and some vendors) do: a fresh self-signed certificate for
    # the same name and key at each registration. The anchor is the name and key, not the bytes.
    first = _cert("Batch Certificate", LEAF_KEY, "Batch Certificate", LEAF_KEY, ca=False, serial=1)
    again = _cert("Batch Certificate", LEAF_KEY, "Batch Certificate", LEAF_KEY, ca=False, serial=2)
    assert chain_ends_at([_der(again)], (_pem(first),), NOW)
    other = _cert("Batch Certificate", OTHER_KEY, "Batch Certificate", OTHER_KEY, ca=False)
    assert not chain_ends_at([_der(other)], (_pem(first),), NOW)
