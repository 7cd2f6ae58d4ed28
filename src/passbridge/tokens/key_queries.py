"""Signing key rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from passbridge.store.models import SigningKey
from passbridge.store.tx import Tx


def published(tx: Tx, *, now: datetime) -> list[SigningKey]:
    """Keys a verifier should trust now: `retired_at` is when a key leaves the JWKS, after its tokens died."""
    query = select(SigningKey).where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > now))
    return list(tx.session.scalars(query.order_by(SigningKey.activates_at.desc())))


def active(tx: Tx, *, now: datetime) -> SigningKey | None:
    """The newest key that has activated; a newer key takes over signing as soon as it activates."""
    query = (
        select(SigningKey)
        .where(
            SigningKey.activates_at <= now,
            or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > now),
        )
        .order_by(SigningKey.activates_at.desc())
        .limit(1)
    )
    return tx.session.scalars(query).first()
