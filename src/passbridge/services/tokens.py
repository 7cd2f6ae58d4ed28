"""Access tokens: minting them for applications and turning a presented token back into a principal.

Signing keys are unsealed once per process and cached by kid (a key never changes); the published
key set is cached briefly and refreshed when a token names an unknown kid, so rotation (which
publishes keys ahead of use) needs no restart.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from passbridge.domain.directory import Role
from passbridge.security import keys as jose
from passbridge.services.context import Env, Principal
from passbridge.store import directory as directory_store
from passbridge.store import keys as key_store
from passbridge.store.models import Application

JWKS_TTL_SECONDS = 30.0


class TokenRejected(Exception):
    """A presented token cannot be used; `message` follows Graph's wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


class _KeyCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._private: dict[str, ECKey] = {}
        self._published: list[dict[str, Any]] = []
        self._published_at = 0.0

    def private(self, env: Env, kid: str, sealed: str) -> ECKey:
        key = self._private.get(kid)
        if key is None:
            key = jose.load_private(env.keeper, kid, sealed)
            with self._lock:
                self._private[kid] = key
        return key

    def published(self, session: Session, env: Env, *, want_kid: str | None) -> list[dict[str, Any]]:
        fresh = time.monotonic() - self._published_at < JWKS_TTL_SECONDS
        known = want_kid is None or any(k.get("kid") == want_kid for k in self._published)
        if not (fresh and known):
            rows = key_store.published(session, now=env.clock.now())
            with self._lock:
                self._published = [dict(r.public_jwk) for r in rows]
                self._published_at = time.monotonic()
        return self._published


_cache = _KeyCache()


def reset_key_cache() -> None:
    """For tests that rotate keys or move the clock."""
    global _cache
    _cache = _KeyCache()


def _signing_key(session: Session, env: Env) -> ECKey:
    row = key_store.active(session, now=env.clock.now())
    if row is None:
        raise RuntimeError("no active signing key; run 'passbridge init'")
    return _cache.private(env, row.kid, row.private_jwk_sealed)


def sign_claims(session: Session, env: Env, claims: dict[str, Any]) -> str:
    return jose.sign(claims, _signing_key(session, env))


def issue_app_token(session: Session, env: Env, app: Application) -> IssuedToken:
    """A client-credentials access token: Graph's `roles` carry the application permissions."""
    tenant = directory_store.tenant(session)
    now = int(env.clock.now().timestamp())
    lifetime = env.settings.access_token_minutes * 60
    claims = {
        "iss": env.settings.base_url,
        "aud": env.settings.base_url,
        "sub": app.id,
        "oid": app.id,
        "tid": tenant.id if tenant else None,
        "appid": app.app_id,
        "azp": app.app_id,
        "app_displayname": app.display_name,
        "idtyp": "app",
        "roles": list(app.permissions),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
        "ver": "2.0",
    }
    return IssuedToken(sign_claims(session, env, claims), lifetime)


def _kid_of(token: str) -> str | None:
    try:
        header = token.split(".", 1)[0]
        data = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = data.get("kid") if isinstance(data, dict) else None
    return kid if isinstance(kid, str) else None


def principal_from_token(
    session: Session, env: Env, token: str, *, ip_address: str | None = None
) -> Principal:
    """Verify a bearer token we issued and describe its caller, or raise TokenRejected."""
    published = _cache.published(session, env, want_kid=_kid_of(token))
    try:
        claims = jose.verify(token, published, now=env.clock.now())
    except jose.TokenInvalid as exc:
        if "expired" in str(exc):
            raise TokenRejected("Lifetime validation failed, the token is expired.") from None
        raise TokenRejected("Access token validation failure.") from None
    if claims.get("iss") != env.settings.base_url or claims.get("aud") != env.settings.base_url:
        raise TokenRejected("Access token validation failure. Invalid audience.")
    if claims.get("idtyp") == "app":
        app = directory_store.application_by_app_id(session, str(claims.get("appid", "")))
        if app is None:
            raise TokenRejected("Access token validation failure: the application no longer exists.")
        return Principal(
            kind="application",
            id=app.id,
            display_name=app.display_name,
            app_id=app.app_id,
            app_permissions=frozenset(str(r) for r in claims.get("roles", [])),
            ip_address=ip_address,
        )
    user = directory_store.user_by_id(session, str(claims.get("oid", "")))
    if user is None or not user.account_enabled:
        raise TokenRejected("Access token validation failure: the user is unknown or disabled.")
    if int(claims.get("iat", 0)) < int(user.sessions_valid_from.timestamp()):
        raise TokenRejected("Access token validation failure: the user's sessions were revoked.")
    roles = frozenset(
        Role(r) for r in directory_store.role_ids_of(session, user.id) if r in Role._value2member_map_
    )
    return Principal(
        kind="user",
        id=user.id,
        display_name=user.display_name,
        user_principal_name=user.user_principal_name,
        app_id=str(claims.get("azp") or "") or None,
        scopes=frozenset(str(claims.get("scp", "")).split()),
        roles=roles,
        ip_address=ip_address,
    )
