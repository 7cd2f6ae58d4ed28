"""Authenticator-app (software OATH TOTP) rows. The seed stays sealed here; services unseal it to check
a code and never hand it out after set-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update

from passbridge.store.models import SoftwareOathMethod
from passbridge.store.tx import Tx


@dataclass(frozen=True)
class OathRecord:
    id: str
    user_id: str
    secret_sealed: str
    display_name: str
    last_step: int | None
    created_at: datetime
    last_used_at: datetime | None


_SELECT = select(*SoftwareOathMethod.__table__.columns)
_OF_USER = _SELECT.where(SoftwareOathMethod.user_id == bindparam("user_id")).order_by(
    SoftwareOathMethod.created_at
)


def _record(row: Any) -> OathRecord:
    v = row._mapping
    return OathRecord(
        v["id"],
        v["user_id"],
        v["secret_sealed"],
        v["display_name"],
        v["last_step"],
        v["created_at"],
        v["last_used_at"],
    )


def of_user(tx: Tx, user_id: str) -> list[OathRecord]:
    return [_record(r) for r in tx.connection().execute(_OF_USER, {"user_id": user_id})]


def add(tx: Tx, row: SoftwareOathMethod) -> None:
    tx.insert(row)


def accept_step(tx: Tx, method_id: str, step: int, *, at: datetime) -> bool:
    """Record `step` as used, only if it is later than every step used before: one conditional UPDATE,
    so two requests racing with the same code (in any process) cannot both pass."""
    result = tx.execute(
        update(SoftwareOathMethod)
        .where(
            SoftwareOathMethod.id == method_id,
            or_(SoftwareOathMethod.last_step.is_(None), SoftwareOathMethod.last_step < step),
        )
        .values(last_step=step, last_used_at=at)
    )
    return bool(result.rowcount)


def rename(tx: Tx, user_id: str, method_id: str, name: str) -> bool:
    result = tx.execute(
        update(SoftwareOathMethod)
        .where(SoftwareOathMethod.id == method_id, SoftwareOathMethod.user_id == user_id)
        .values(display_name=name)
    )
    return bool(result.rowcount)


def remove(tx: Tx, user_id: str, method_id: str) -> bool:
    result = tx.execute(
        delete(SoftwareOathMethod).where(
            SoftwareOathMethod.id == method_id, SoftwareOathMethod.user_id == user_id
        )
    )
    return bool(result.rowcount)
