"""Our one module over py_webauthn: registration and assertion ceremonies, nothing else imports it.

Policy lives here so that every caller gets it: discoverable credentials (resident keys) and user
verification are required, ES256, EdDSA and RS256 keys are accepted. Attestation is `none` unless the
caller's passkey profile asks for it (`direct`); then the statement is verified and, where the caller
passes trust roots, its certificate chain must end at one of them (`_chains_to`): only the roots given
count, and nothing is fetched (no FIDO metadata service). The relying
party's id and origin come from PASSBRIDGE_BASE_URL. Library exceptions become `CeremonyFailed`, whose
message names what was wrong and never carries the response itself.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    generate_challenge,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_attestation_object import parse_attestation_object
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialHint,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

# Two minutes to touch a key or answer the platform's prompt; the stored challenge lives as long.
TIMEOUT_MS = 120_000
# Guard the JSON parser against absurd bodies: real responses are a few kilobytes. Within that size,
# JSON nested past the recursion limit raises RecursionError, caught with the parse errors.
MAX_RESPONSE_BYTES = 64 * 1024


class CeremonyFailed(Exception):
    """The browser's answer does not verify. The message is for logs and the person; no secret in it."""


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the host name: WebAuthn scopes credentials to it
    name: str
    origin: str  # scheme://host[:port], as the browser reports it in clientDataJSON

    @classmethod
    def from_base_url(cls, base_url: str, name: str) -> RelyingParty:
        parts = urlsplit(base_url)
        if not parts.hostname:
            raise ValueError(f"PASSBRIDGE_BASE_URL '{base_url}' has no host name for WebAuthn")
        return cls(parts.hostname, name, f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class NewCredential:
    credential_id: str  # base64url
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: tuple[str, ...]
    backup_eligible: bool
    backed_up: bool
    attestation_format: str
    # The statement verified and its chain ends at one of the trust roots the caller gave.
    attested: bool = False


@dataclass(frozen=True)
class Assertion:
    credential_id: str  # base64url
    user_handle: bytes | None


@dataclass(frozen=True)
class VerifiedUse:
    sign_count: int
    backed_up: bool


def new_challenge() -> str:
    """64 random bytes, base64url, to store with the ceremony and hand to the browser."""
    return bytes_to_base64url(generate_challenge())


def registration_options(
    rp: RelyingParty,
    *,
    challenge: str,
    user_handle: bytes,
    user_name: str,
    display_name: str,
    exclude: list[tuple[str, tuple[str, ...]]],
    direct_attestation: bool = False,
    prefer_security_key: bool = False,
) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptions as JSON-ready data; `exclude` lists (credential id, transports)
    the person already has, so the same authenticator is not registered twice. `direct_attestation`
    asks for the authenticator's attestation statement; `prefer_security_key` hints the browser to
    offer a security key first (WebAuthn has no way to demand a device-bound credential)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=display_name,
        challenge=base64url_to_bytes(challenge),
        timeout=TIMEOUT_MS,
        attestation=(
            AttestationConveyancePreference.DIRECT
            if direct_attestation
            else AttestationConveyancePreference.NONE
        ),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(cid, transports) for cid, transports in exclude],
        hints=[PublicKeyCredentialHint.SECURITY_KEY] if prefer_security_key else None,
    )
    data: dict[str, Any] = json.loads(options_to_json(options))
    return data


def authentication_options(
    rp: RelyingParty, *, challenge: str, allow: list[tuple[str, tuple[str, ...]]] | None = None
) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions. With no `allow` list the browser offers every passkey it holds
    for this site (discoverable credentials), so no username is needed."""
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=base64url_to_bytes(challenge),
        timeout=TIMEOUT_MS,
        allow_credentials=[_descriptor(cid, t) for cid, t in allow or ()],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    data: dict[str, Any] = json.loads(options_to_json(options))
    return data


def verify_registration(
    rp: RelyingParty,
    response: str,
    *,
    challenge: str,
    trust_roots: tuple[str, ...] = (),
    now: datetime | None = None,
) -> NewCredential:
    """Verify a registration. With `trust_roots` (PEM), `attested` says whether the attestation
    statement carries a certificate chain ending at one of them, valid at `now`; a statement that fails
    to verify is refused whatever the roots."""
    _check_size(response)
    try:
        parsed = parse_registration_credential_json(response)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
        attested = bool(trust_roots) and _chains_to(verified.attestation_object, trust_roots, now)
    except (WebAuthnException, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CeremonyFailed(f"The passkey registration did not verify: {_reason(exc)}") from None
    transports = tuple(_text(t) for t in parsed.response.transports or ())
    return NewCredential(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        transports=transports,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        attestation_format=_text(verified.fmt),
        attested=attested,
    )


def _chains_to(attestation_object: bytes, roots: tuple[str, ...], now: datetime | None) -> bool:
    """Whether the statement's x5c chain (which py_webauthn has verified the statement's signature with)
    ends at one of `roots`, every certificate valid at `now`. A root is a trust anchor in RFC 5280's
    sense, a name and a key: the top certificate must be issued by it (or be it), which is also how a
    vendor that re-issues its self-signed attestation certificate stays trusted. Our own check rather
    than py_webauthn's `pem_root_certs_bytes_by_fmt`: that one uses OpenSSL, which trusts a self-signed
    certificate only byte for byte, and adds the vendor roots py_webauthn ships, which are not ours."""
    statement = parse_attestation_object(attestation_object)
    if statement.fmt == AttestationFormat.NONE or not statement.att_stmt.x5c:
        return False  # "none" or self attestation: nothing chains anywhere
    return chain_ends_at(statement.att_stmt.x5c, roots, now or datetime.now(UTC))


def chain_ends_at(x5c: list[bytes], roots: tuple[str, ...], when: datetime) -> bool:
    """`_chains_to` for DER certificates, leaf first."""
    if not x5c:
        return False
    try:
        chain = [x509.load_der_x509_certificate(der) for der in x5c]
        anchors = [x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in roots]
    except ValueError:
        return False
    if any(not (c.not_valid_before_utc <= when <= c.not_valid_after_utc) for c in chain):
        return False
    for child, parent in itertools.pairwise(chain):
        if not _issued_by(child, parent) or not _is_ca(parent):
            return False
    return any(_issued_by(chain[-1], anchor) for anchor in anchors)


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def certificate_chain_pem(response: str) -> list[str]:
    """The attestation certificates (leaf first) of a registration answer as PEM, without verifying
    anything: what an administrator (or a test) reads to learn an authenticator's chain."""
    parsed = parse_registration_credential_json(response)
    x5c = parse_attestation_object(parsed.response.attestation_object).att_stmt.x5c or []
    return [_pem(cert) for cert in x5c]


def _pem(der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def read_assertion(response: str) -> Assertion:
    """Which credential answered (and the user handle it carries), before anything is verified: the
    caller needs the stored public key to verify with."""
    _check_size(response)
    try:
        parsed = parse_authentication_credential_json(response)
    except (WebAuthnException, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CeremonyFailed(f"The passkey answer could not be read: {_reason(exc)}") from None
    return Assertion(bytes_to_base64url(parsed.raw_id), parsed.response.user_handle)


def verify_assertion(
    rp: RelyingParty, response: str, *, challenge: str, public_key: bytes, sign_count: int
) -> VerifiedUse:
    """Signature, challenge, origin, RP id, user verification and the sign counter (a counter that did
    not grow, where the authenticator keeps one, means a cloned key: refused)."""
    _check_size(response)
    try:
        verified = verify_authentication_response(
            credential=parse_authentication_credential_json(response),
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CeremonyFailed(f"The passkey sign-in did not verify: {_reason(exc)}") from None
    return VerifiedUse(verified.new_sign_count, verified.credential_backed_up)


def _descriptor(credential_id: str, transports: tuple[str, ...]) -> PublicKeyCredentialDescriptor:
    known = {t.value: t for t in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(credential_id), transports=[known[t] for t in transports if t in known]
    )


def _text(value: object) -> str:
    # py_webauthn hands some enum fields back as their plain string values.
    return str(getattr(value, "value", value))


def _check_size(response: str) -> None:
    if len(response) > MAX_RESPONSE_BYTES:
        raise CeremonyFailed("The passkey answer is too large.")


def _reason(exc: Exception) -> str:
    # py_webauthn's messages name the failed check ("Unexpected client data challenge", "Response
    # sign count of 0 was not greater than current count of 3"); they hold no key material.
    text = str(exc).strip() or type(exc).__name__
    # Some quote the answer (an origin from clientDataJSON), which may hold a lone surrogate no page
    # can encode; such characters become "?".
    return text[:200].encode("utf-8", "replace").decode("utf-8")
