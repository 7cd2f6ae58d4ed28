"""Signing key lifecycle: create at init, rotate without downtime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passbridge.directory import access
from passbridge.domain.errors import InvalidInput
from passbridge.logs import audit
from passbridge.logs.audit import TargetRef
from passbridge.security import keys as jose
from passbridge.services.context import Env, Principal
from passbridge.store.models import SigningKey
from passbridge.store.tx import Tx
from passbridge.tokens import key_queries as store
from passbridge.tokens.service import KEY_SNAPSHOT_TTL

# How long relying parties may cache the published key set (Cache-Control on the keys endpoint).
JWKS_MAX_AGE_SECONDS = 300
# A new key must be published before it signs for longer than any cache of the key set lives (ours
# in every server process, and relying parties'), or a verifier could meet a kid it has never seen.
MIN_PUBLISH_AHEAD = timedelta(seconds=JWKS_MAX_AGE_SECONDS + KEY_SNAPSHOT_TTL)


def add_key(tx: Tx, env: Env, *, publish_ahead: timedelta = timedelta(0)) -> SigningKey:
    """Create a key, published now, signing from `now + publish_ahead` (so caches see it first)."""
    now = env.clock.now()
    new = jose.generate_key(env.keeper)
    row = SigningKey(
        kid=new.kid,
        alg=new.alg,
        public_jwk=new.public_jwk,
        private_jwk_sealed=new.private_jwk_sealed,
        created_at=now,
        activates_at=now + publish_ahead,
    )
    tx.session.add(row)
    return row


def rotate(
    tx: Tx,
    env: Env,
    principal: Principal,
    *,
    publish_ahead: timedelta,
    keep_old_for: timedelta,
) -> SigningKey:
    """Publish a new key; once it activates it signs, and older keys leave the JWKS `keep_old_for` later."""
    access.require_operator(principal, "rotate signing keys")
    if publish_ahead < MIN_PUBLISH_AHEAD:
        raise InvalidInput(
            f"publish the new key at least {int(MIN_PUBLISH_AHEAD.total_seconds())} seconds ahead, "
            "longer than caches of the key set live."
        )
    lifetime = timedelta(minutes=env.settings.access_token_minutes)
    if keep_old_for < lifetime:
        raise InvalidInput(
            f"keep old keys at least {env.settings.access_token_minutes} minutes (the access token "
            "lifetime), so tokens they signed verify until they expire."
        )
    now = env.clock.now()
    row = add_key(tx, env, publish_ahead=publish_ahead)
    for old in store.published(tx, now=now):
        if old.kid != row.kid and old.retired_at is None:
            old.retired_at = now + publish_ahead + keep_old_for
    audit.record(
        tx,
        now=now,
        principal=principal,
        activity="Rotate token signing key",
        category="KeyManagement",
        operation_type="Add",
        targets=[TargetRef("Other", row.kid, "Token signing key")],
        details={"ActivatesAt": row.activates_at.isoformat(), "Algorithm": row.alg},
    )
    return row


@dataclass(frozen=True)
class KeyState:
    kid: str
    alg: str
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None
    state: str  # "pending" (published, not signing yet), "active" (signs), "published" (verifies only)


def overview(tx: Tx, env: Env, principal: Principal) -> list[KeyState]:
    """Published keys, newest first, with what each does now."""
    access.require_operator(principal, "list signing keys")
    now = env.clock.now()
    active = store.active(tx, now=now)
    result = []
    for key in store.published(tx, now=now):
        if key.activates_at > now:
            state = "pending"
        elif active is not None and key.kid == active.kid:
            state = "active"
        else:
            state = "published"
        result.append(KeyState(key.kid, key.alg, key.created_at, key.activates_at, key.retired_at, state))
    return result


def public_jwks(tx: Tx, env: Env) -> list[dict[str, object]]:
    return [dict(k.public_jwk) for k in store.published(tx, now=env.clock.now())]
