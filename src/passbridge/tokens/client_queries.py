"""Lookups on the token hot path: plain Core selects of the few columns a grant needs.

DESIGN.md measured the ORM as the largest cost of a grant. These statements are built once with bound
parameters (so SQLAlchemy computes their cache keys once) and run as Core on the caller's Tx (the
client credentials grant's is an autocommit one): the ORM's execution and loading layers are skipped;
they return rows, never tracked instances.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, or_, select

from passbridge.fastpath.prepared import PreparedSelect
from passbridge.store.models import Application, SigningKey, Tenant
from passbridge.store.tx import Tx


class ClientRow(NamedTuple):
    id: str
    app_id: str
    display_name: str
    secret_hash: str
    permissions: list[str] | None
    redirect_uris: list[str] | None
    required_strength: str | None


class KeyRow(NamedTuple):
    kid: str
    public_jwk: dict[str, Any]
    private_jwk_sealed: str
    activates_at: datetime
    retired_at: datetime | None


# On the driver's cursor (fastpath/prepared.py): every grant runs it, and SQLAlchemy's execute cost several
# times SQLite's work here.
CLIENT_COLUMNS: tuple[Any, ...] = (
    Application.id,
    Application.app_id,
    Application.display_name,
    Application.secret_hash,
    Application.permissions,
    Application.redirect_uris,
    Application.required_strength,
)
_CLIENT = PreparedSelect(select(*CLIENT_COLUMNS).where(Application.app_id == bindparam("app_id")), ClientRow)


def client_row(tx: Tx, app_id: str) -> ClientRow | None:
    return _CLIENT.first(tx, app_id=app_id)


_TENANT = select(Tenant.id).limit(1)


def tenant_id(tx: Tx) -> str | None:
    return tx.connection().execute(_TENANT).scalar()


def key_rows(tx: Tx, *, now: datetime) -> list[KeyRow]:
    """Keys not yet retired; callers filter again by their clock, so one snapshot serves both signing
    and verifying for a while."""
    query = (
        select(
            SigningKey.kid,
            SigningKey.public_jwk,
            SigningKey.private_jwk_sealed,
            SigningKey.activates_at,
            SigningKey.retired_at,
        )
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > now))
        .order_by(SigningKey.activates_at.desc(), SigningKey.kid)
    )
    return [KeyRow._make(row) for row in tx.execute(query)]
