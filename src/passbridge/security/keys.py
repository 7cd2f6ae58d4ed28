"""Token-signing keys (JOSE via joserfc): creation, publication as a JWKS, signing and verifying.

Signing, on every grant, goes through fastpath/jws.py (`cryptography` directly, the same JWS joserfc
writes), or with the fast path off through joserfc's `jwt.encode`; joserfc verifies tokens and builds
the JWKS either way.

Private keys are stored sealed with a pepper-derived key. Rotation: a new key is published before it
signs (`activates_at`), and a retired key stays in the JWKS until tokens it signed have expired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from passbridge import fastpath
from passbridge.fastpath.jws import CompactES256
from passbridge.security.secrets import SecretKeeper

ALGORITHM = "ES256"


class TokenInvalid(Exception):
    """A token failed signature, format or claim checks."""


@dataclass(frozen=True)
class NewKey:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private_jwk_sealed: str


def generate_key(keeper: SecretKeeper) -> NewKey:
    key = ECKey.generate_key("P-256")
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": ALGORITHM}
    private = json.dumps(key.as_dict(private=True)).encode()
    return NewKey(kid, ALGORITHM, public, keeper.seal(private, kid.encode()))


def load_private(keeper: SecretKeeper, kid: str, sealed: str) -> ECKey:
    data = json.loads(keeper.unseal(sealed, kid.encode()))
    return ECKey.import_key({**data, "kid": kid})


def jwks(public_jwks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"keys": public_jwks}


class Signer:
    """One private key ready to sign compact ES256 JWSs (callers keep one per key)."""

    def __init__(self, key: ECKey, *, typ: str = "JWT") -> None:
        if key.curve_name != "P-256":
            raise ValueError("ES256 needs a P-256 key")
        self.kid = key.kid
        self._key = key
        self._header = {"typ": typ, "alg": ALGORITHM, "kid": key.kid}
        self._fast = CompactES256(key, typ=typ)

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact ES256 JWS of `claims` (JSON values; times as NumericDate integers)."""
        if fastpath.active("jws"):
            return self._fast.sign(claims)
        return jwt.encode(self._header, claims, self._key, algorithms=[ALGORITHM])


def sign(claims: dict[str, Any], key: ECKey, *, typ: str = "JWT") -> str:
    """A compact ES256 JWS of `claims` (JSON values; times as NumericDate integers)."""
    return Signer(key, typ=typ).sign(claims)


def verify(token: str, public_jwks: list[dict[str, Any]] | KeySet, *, now: datetime) -> dict[str, Any]:
    """Check the signature against the published keys and the time claims; return the claims.
    Callers verifying often pass a KeySet they imported once: importing costs as much as verifying."""
    claims = verify_signature(token, public_jwks)
    check_times(claims, now=now)
    return claims


def verify_signature(token: str, public_jwks: list[dict[str, Any]] | KeySet) -> dict[str, Any]:
    """The claims of a token whose signature one of the published keys checks; times are not checked."""
    try:
        key_set = (
            public_jwks if isinstance(public_jwks, KeySet) else KeySet.import_key_set({"keys": public_jwks})
        )
        decoded = jwt.decode(token, key_set, algorithms=[ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise TokenInvalid(f"token signature or format is invalid ({type(exc).__name__})") from None
    return dict(decoded.claims)


def check_times(claims: dict[str, Any], *, now: datetime) -> None:
    """Separate from the signature so that a caller may reuse a signature check but never the times."""
    stamp = int(now.timestamp())
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= stamp:
        raise TokenInvalid("token has expired")
    if isinstance(claims.get("nbf"), int) and claims["nbf"] > stamp + 300:
        raise TokenInvalid("token is not valid yet")
