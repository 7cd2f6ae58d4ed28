"""Signing key lifecycle: create at init, rotate without downtime."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from passbridge.security import keys as jose
from passbridge.services.context import Env
from passbridge.store import keys as store
from passbridge.store.models import SigningKey


def add_key(session: Session, env: Env, *, publish_ahead: timedelta = timedelta(0)) -> SigningKey:
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
    session.add(row)
    return row


def rotate(session: Session, env: Env, *, publish_ahead: timedelta, keep_old_for: timedelta) -> SigningKey:
    """Publish a new key; once it activates it signs, and older keys leave the JWKS `keep_old_for` later."""
    now = env.clock.now()
    row = add_key(session, env, publish_ahead=publish_ahead)
    for old in store.published(session, now=now):
        if old.kid != row.kid and old.retired_at is None:
            old.retired_at = now + publish_ahead + keep_old_for
    return row


def public_jwks(session: Session, env: Env) -> list[dict[str, object]]:
    return [dict(k.public_jwk) for k in store.published(session, now=env.clock.now())]
