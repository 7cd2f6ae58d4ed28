"""Authorization codes and refresh tokens of the OpenID Connect provider.

Single use is a conditional UPDATE (`used_at IS NULL` in the WHERE clause), atomic on both databases:
of any number of requests racing to redeem one code or one refresh token, exactly one sees True.

The refresh grant is a hot path (bench/refresh.py): its three statements are compiled once and run
on the driver's cursor of the grant's connection (fastpath/prepared.py), skipping the ORM and SQLAlchemy's
per-execute machinery, which cost more than SQLite's work. The grant's Tx is a write transaction that
nothing uses the ORM in (store/runner.py's `write`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, insert, select, update

from passbridge.fastpath.prepared import PreparedSelect, PreparedWrite
from passbridge.store.models import AuthorizationCodeRow, RefreshTokenRow, User
from passbridge.store.tx import Tx

# --- authorization codes -------------------------------------------------------------------------


def add_code(tx: Tx, row: AuthorizationCodeRow) -> None:
    tx.session.add(row)
    tx.session.flush()


def code_by_hash(tx: Tx, code_hash: str) -> AuthorizationCodeRow | None:
    return tx.session.get(AuthorizationCodeRow, code_hash)


def use_code(tx: Tx, code_hash: str, now: datetime) -> bool:
    result = tx.execute(
        update(AuthorizationCodeRow)
        .where(AuthorizationCodeRow.code_hash == code_hash, AuthorizationCodeRow.used_at.is_(None))
        .values(used_at=now)
    )
    return int(result.rowcount) == 1


def purge_codes(tx: Tx, before: datetime) -> int:
    result = tx.execute(delete(AuthorizationCodeRow).where(AuthorizationCodeRow.expires_at < before))
    return int(result.rowcount)


# --- refresh tokens ------------------------------------------------------------------------------


_INSERT_REFRESH = PreparedWrite(insert(RefreshTokenRow))


def add_refresh_token(tx: Tx, values: dict[str, Any]) -> None:
    """Insert one refresh_token row given every column's value by name."""
    _INSERT_REFRESH.run(tx, **values)


class RefreshWithUser(NamedTuple):
    """A refresh token's grant columns and its user's."""

    id: str
    family_id: str
    client_id: str
    user_id: str
    session_id: str | None
    scope: str
    auth_time: datetime
    amr: list[str]
    acr: str
    not_after: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None
    account_enabled: bool
    sessions_valid_from: datetime
    user_principal_name: str
    display_name: str
    mail: str | None


_REFRESH_COLUMNS: tuple[Any, ...] = (
    RefreshTokenRow.id,
    RefreshTokenRow.family_id,
    RefreshTokenRow.client_id,
    RefreshTokenRow.user_id,
    RefreshTokenRow.session_id,
    RefreshTokenRow.scope,
    RefreshTokenRow.auth_time,
    RefreshTokenRow.amr,
    RefreshTokenRow.acr,
    RefreshTokenRow.not_after,
    RefreshTokenRow.expires_at,
    RefreshTokenRow.used_at,
    RefreshTokenRow.revoked_at,
    User.account_enabled,
    User.sessions_valid_from,
    User.user_principal_name,
    User.display_name,
    User.mail,
)
_REFRESH_WITH_USER = PreparedSelect(
    select(*_REFRESH_COLUMNS)
    .join(User, User.id == RefreshTokenRow.user_id)
    .where(RefreshTokenRow.token_hash == bindparam("token_hash")),
    RefreshWithUser,
)


def refresh_token_with_user(tx: Tx, token_hash: str) -> RefreshWithUser | None:
    return _REFRESH_WITH_USER.first(tx, token_hash=token_hash)


_USE_REFRESH = PreparedWrite(
    update(RefreshTokenRow)
    .where(
        RefreshTokenRow.id == bindparam("token_id"),
        RefreshTokenRow.used_at.is_(None),
        RefreshTokenRow.revoked_at.is_(None),
    )
    .values(used_at=bindparam("now"))
)


def use_refresh_token(tx: Tx, token_id: str, now: datetime) -> bool:
    """Mark a refresh token used (rotated); False when it was already used or revoked."""
    return _USE_REFRESH.run(tx, token_id=token_id, now=now) == 1


def revoke_family(tx: Tx, family_id: str, now: datetime) -> int:
    result = tx.connection().execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


def revoke_session_tokens(tx: Tx, session_id: str, now: datetime) -> int:
    result = tx.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.session_id == session_id, RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def purge_refresh_tokens(tx: Tx, before: datetime) -> int:
    result = tx.execute(delete(RefreshTokenRow).where(RefreshTokenRow.expires_at < before))
    return int(result.rowcount)
