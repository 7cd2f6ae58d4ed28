"""A software FIDO2 authenticator for tests that do not run a browser: it answers real WebAuthn options
with real P-256 signatures, attestation "none", as a platform authenticator with user verification.

It is a test client, like httpx for HTTP: the server's verification (py_webauthn) is what is under test.
The browser tests use Chromium's own virtual authenticator instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    origin: str
    aaguid: bytes = b"\x00" * 16
    synced: bool = False  # backup eligible and backed up, as a synced passkey
    credentials: list[Credential] = field(default_factory=list)

    def _flags(self, extra: int) -> int:
        return UP | UV | extra | ((BE | BS) if self.synced else 0)

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> str:
        """navigator.credentials.create(): a registration response JSON for `options`."""
        rp_id = options["rp"]["id"]
        excluded = {base64url_to_bytes(c["id"]) for c in options.get("excludeCredentials", [])}
        if any(c.credential_id in excluded for c in self.credentials):
            raise RuntimeError("InvalidStateError: this authenticator already holds an excluded credential")
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        credential = Credential(os.urandom(32), key, rp_id, base64url_to_bytes(options["user"]["id"]))
        credential.sign_count = 1
        attested = self.aaguid + struct.pack(">H", len(credential.credential_id)) + credential.credential_id
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(AT)])
            + struct.pack(">I", credential.sign_count)
            + attested
            + cbor2.dumps(cose)
        )
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        self.credentials.append(credential)
        return json.dumps(
            {
                "id": bytes_to_base64url(credential.credential_id),
                "rawId": bytes_to_base64url(credential.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "attestationObject": bytes_to_base64url(
                        cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
                    ),
                    "transports": ["internal"],
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        credential: Credential | None = None,
        sign_count: int | None = None,
    ) -> str:
        """navigator.credentials.get(): an assertion with the first (or the given) credential for the
        RP; `sign_count` forces the counter (a cloned key's stale one, say)."""
        chosen = credential or next(c for c in self.credentials if c.rp_id == options["rpId"])
        chosen.sign_count = sign_count if sign_count is not None else chosen.sign_count + 1
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([self._flags(0)])
            + struct.pack(">I", chosen.sign_count)
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = chosen.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": bytes_to_base64url(chosen.credential_id),
                "rawId": bytes_to_base64url(chosen.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "authenticatorData": bytes_to_base64url(auth_data),
                    "signature": bytes_to_base64url(signature),
                    "userHandle": bytes_to_base64url(chosen.user_handle),
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(data, separators=(",", ":")).encode()
