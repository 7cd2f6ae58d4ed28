"""Passkey (FIDO2) credential rows, and the records read from them (no ORM objects leave the store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, delete, exists, select, update

from passbridge.fastpath.prepared import PreparedSelect
from passbridge.store.models import Fido2Credential, SoftwareOathMethod, User
from passbridge.store.tx import Tx


@dataclass(frozen=True)
class PasskeyRecord:
    id: str
    user_id: str
    credential_id: str  # base64url
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: tuple[str, ...]
    backup_eligible: bool
    backed_up: bool
    attestation_format: str
    display_name: str
    created_at: datetime
    last_used_at: datetime | None


_SELECT = select(*Fido2Credential.__table__.columns)
_OF_USER = _SELECT.where(Fido2Credential.user_id == bindparam("user_id")).order_by(Fido2Credential.created_at)
_BY_CREDENTIAL = _SELECT.where(Fido2Credential.credential_id == bindparam("credential_id"))


class PasskeyRow(NamedTuple):
    """The table's columns, in order."""

    id: str
    user_id: str
    credential_id: str
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: list[str] | None
    backup_eligible: bool
    backed_up: bool
    attestation_format: str
    display_name: str
    created_at: datetime
    last_used_at: datetime | None


class PasskeyOwnerRow(NamedTuple):
    """A passkey's columns (the table's, in order) and its owner's."""

    id: str
    user_id: str
    credential_id: str
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: list[str] | None
    backup_eligible: bool
    backed_up: bool
    attestation_format: str
    display_name: str
    created_at: datetime
    last_used_at: datetime | None
    user_principal_name: str
    user_display_name: str
    account_enabled: bool


class HoldsRow(NamedTuple):
    passkey: bool
    app: bool


def _record(row: PasskeyRow | PasskeyOwnerRow) -> PasskeyRecord:
    return PasskeyRecord(
        id=row.id,
        user_id=row.user_id,
        credential_id=row.credential_id,
        public_key=bytes(row.public_key),
        sign_count=row.sign_count,
        aaguid=row.aaguid,
        transports=tuple(row.transports or ()),
        backup_eligible=row.backup_eligible,
        backed_up=row.backed_up,
        attestation_format=row.attestation_format,
        display_name=row.display_name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


def of_user(tx: Tx, user_id: str) -> list[PasskeyRecord]:
    return [_record(PasskeyRow._make(r)) for r in tx.execute(_OF_USER, {"user_id": user_id})]


def by_credential_id(tx: Tx, credential_id: str) -> PasskeyRecord | None:
    row = tx.connection().execute(_BY_CREDENTIAL, {"credential_id": credential_id}).first()
    return _record(PasskeyRow._make(row)) if row is not None else None


def add(tx: Tx, row: Fido2Credential) -> None:
    tx.insert(row)


def record_use(
    tx: Tx,
    passkey_id: str,
    *,
    old_count: int,
    new_count: int,
    backed_up: bool,
    at: datetime,
) -> bool:
    """Store the new sign count, only if nobody stored another since we read `old_count` (two racing
    assertions with one counter value: one wins). False when the row changed or is gone."""
    result = tx.execute(
        update(Fido2Credential)
        .where(Fido2Credential.id == passkey_id, Fido2Credential.sign_count == old_count)
        .values(sign_count=new_count, backed_up=backed_up, last_used_at=at)
    )
    return bool(result.rowcount)


def rename(tx: Tx, user_id: str, passkey_id: str, name: str) -> bool:
    result = tx.execute(
        update(Fido2Credential)
        .where(Fido2Credential.id == passkey_id, Fido2Credential.user_id == user_id)
        .values(display_name=name)
    )
    return bool(result.rowcount)


def remove(tx: Tx, user_id: str, passkey_id: str) -> bool:
    result = tx.execute(
        delete(Fido2Credential).where(Fido2Credential.id == passkey_id, Fido2Credential.user_id == user_id)
    )
    return bool(result.rowcount)


# --- sign-in --------------------------------------------------------------------------------------

_FOR_SIGN_IN = PreparedSelect(
    select(
        *Fido2Credential.__table__.columns,
        User.user_principal_name.label("user_principal_name"),
        User.display_name.label("user_display_name"),
        User.account_enabled.label("account_enabled"),
    )
    .join(User, User.id == Fido2Credential.user_id)
    .where(Fido2Credential.credential_id == bindparam("credential_id")),
    PasskeyOwnerRow,
)
_HOLDS = PreparedSelect(
    select(
        exists().where(Fido2Credential.user_id == bindparam("user_id")).label("passkey"),
        exists().where(SoftwareOathMethod.user_id == bindparam("user_id")).label("app"),
    ),
    HoldsRow,
)


@dataclass(frozen=True)
class PasskeyOwner:
    passkey: PasskeyRecord
    user_principal_name: str
    display_name: str
    enabled: bool


def for_sign_in(tx: Tx, credential_id: str) -> PasskeyOwner | None:
    """The passkey with this credential id and its owner, in one select."""
    row = _FOR_SIGN_IN.first(tx, credential_id=credential_id)
    if row is None:
        return None
    return PasskeyOwner(_record(row), row.user_principal_name, row.user_display_name, row.account_enabled)


def holds_strong_method(tx: Tx, user_id: str) -> bool:
    """Whether the user has a passkey or an authenticator app: one select of two EXISTS."""
    row = _HOLDS.first(tx, user_id=user_id)
    return row is not None and bool(row.passkey or row.app)
