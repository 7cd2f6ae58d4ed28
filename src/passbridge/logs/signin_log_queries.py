"""Sign-in log entries (Graph's `/auditLogs/signIns`): filtering and paging happen in SQL, on both
databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, func, insert, select

from passbridge.logs.queries import EntryKey, at_times, page
from passbridge.logs.rules import SignInFilter
from passbridge.store.models import SignInLogEntry
from passbridge.store.tx import Tx

_LOG: Table = SignInLogEntry.__table__  # type: ignore[assignment]
_ADD = insert(_LOG)


def add(tx: Tx, values: dict[str, Any]) -> None:
    """Insert an entry from its column values (every column of sign_in_log), in the caller's transaction."""
    tx.execute(_ADD, values)


def _where(query: Select[tuple[SignInLogEntry]], wanted: SignInFilter) -> Select[tuple[SignInLogEntry]]:
    query = at_times(query, SignInLogEntry.created_at, wanted.times)
    for name in wanted.user_principal_names:
        # UPNs compare case-insensitively everywhere else in Passbridge, and a failed attempt stores the
        # name as typed; lower() on both sides makes the two databases agree (ASCII folding).
        query = query.where(func.lower(SignInLogEntry.user_principal_name) == name.lower())
    for user_id in wanted.user_ids:
        query = query.where(SignInLogEntry.user_id == user_id)
    for app_id in wanted.app_ids:
        query = query.where(SignInLogEntry.app_id == app_id)
    for code in wanted.error_codes:
        query = query.where(SignInLogEntry.error_code == code)
    if wanted.failed is not None:
        query = query.where(
            SignInLogEntry.error_code != 0 if wanted.failed else SignInLogEntry.error_code == 0
        )
    return query


def search(
    tx: Tx,
    wanted: SignInFilter,
    *,
    after: EntryKey | None = None,
    limit: int,
    oldest_first: bool = False,
) -> list[SignInLogEntry]:
    return page(
        tx,
        _where(select(SignInLogEntry), wanted),
        time=SignInLogEntry.created_at,
        entry_id=SignInLogEntry.id,
        after=after,
        limit=limit,
        oldest_first=oldest_first,
    )


def by_id(tx: Tx, entry_id: str) -> SignInLogEntry | None:
    return tx.session.get(SignInLogEntry, entry_id)
