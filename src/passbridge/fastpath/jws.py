"""Compact ES256 JWSs signed with `cryptography` directly, written byte for byte as joserfc writes them.

joserfc's compact serialisation around the one ECDSA call (header registry checks, algorithm lookup,
its signature object) cost about as much as the signature, and every grant signs one or two tokens.
Relies on joserfc 1.8 (the header's member order and JSON encodings `jwt.encode` writes: typ first,
ASCII-escaped header, UTF-8 claims, compact separators; `ECKey.get_op_key`); of cryptography, only its
public API (ECDSA signing, DER signatures decoded to r||s). tests/unit/test_keys.py compares the output
with joserfc's. Off (PASSBRIDGE_FASTPATH=0, or another joserfc), security/keys.py signs with joserfc.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey

_ES256 = ec.ECDSA(hashes.SHA256())
_P256_BYTES = 32


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class CompactES256:
    """The header segment is encoded and the cryptography key taken out of the JWK once, not per token."""

    def __init__(self, key: ECKey, *, typ: str = "JWT") -> None:
        header = json.dumps(
            {"typ": typ, "alg": "ES256", "kid": key.kid}, ensure_ascii=True, separators=(",", ":")
        )
        self._prefix = _b64(header.encode("ascii")) + b"."
        self._private: ec.EllipticCurvePrivateKey = key.get_op_key("sign")

    def sign(self, claims: dict[str, Any]) -> str:
        # orjson writes what json.dumps(ensure_ascii=False, separators=(",", ":")) writes for JSON
        # values, UTF-8 encoded, in a twentieth of the time (tests/unit/test_keys.py compares).
        signing_input = self._prefix + _b64(orjson.dumps(claims))
        r, s = decode_dss_signature(self._private.sign(signing_input, _ES256))
        signature = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
        return (signing_input + b"." + _b64(signature)).decode("ascii")
