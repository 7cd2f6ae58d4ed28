"""Throttle counters (models.SignInThrottle), one row per key, written only by compare-and-set.

A reservation reads the counters, computes the next state (domain/signin.py `reserve`), and writes
each row with one conditional UPDATE on the version it read. On PostgreSQL a concurrent writer's
UPDATE waits for ours and then finds the version moved, so it matches no row and its caller reads
again; on SQLite the transaction holds the database's write lock (BEGIN IMMEDIATE) throughout. Either
way two processes can never both spend the same attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from passbridge.domain.signin import Counter
from passbridge.store.models import SignInThrottle

_THROTTLE: Table = SignInThrottle.__table__  # type: ignore[assignment]
_C = _THROTTLE.c

# Keys for the account's consecutive failures (domain CEILING_RULE): kept until a success, never purged.
CEILING_PREFIX = "account:"


def ensure(connection: Connection, keys: Sequence[str]) -> None:
    """Create a zeroed counter for each key that has none (one statement; existing rows untouched)."""
    rows = [
        {"key": key, "attempts": 0, "lockouts": 0, "locked_until": None, "last_at": None, "version": 0}
        for key in keys
    ]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(_THROTTLE).values(rows).on_conflict_do_nothing(index_elements=["key"]))


_READ = select(_C.key, _C.attempts, _C.lockouts, _C.locked_until, _C.last_at, _C.version).where(
    _C.key.in_(bindparam("keys", expanding=True))
)


def read(connection: Connection, keys: Sequence[str]) -> dict[str, Counter]:
    found = {
        row.key: Counter(row.attempts, row.lockouts, row.locked_until, row.last_at, row.version)
        for row in connection.execute(_READ, {"keys": list(keys)})
    }
    return {key: found.get(key, Counter()) for key in keys}


_WRITE = (
    update(_THROTTLE)
    .where(_C.key == bindparam("k"), _C.version == bindparam("read_version"))
    .values(
        attempts=bindparam("new_attempts"),
        lockouts=bindparam("new_lockouts"),
        locked_until=bindparam("new_locked_until"),
        last_at=bindparam("new_last_at"),
        version=bindparam("new_version"),
    )
)


def write(connection: Connection, key: str, read_version: int, counter: Counter) -> bool:
    """Write `counter` over the row only if it still has `read_version`; False when another request
    wrote it first (the caller reads again)."""
    result = connection.execute(
        _WRITE,
        {
            "k": key,
            "read_version": read_version,
            "new_attempts": counter.attempts,
            "new_lockouts": counter.lockouts,
            "new_locked_until": counter.locked_until,
            "new_last_at": counter.last_at,
            "new_version": counter.version,
        },
    )
    return int(result.rowcount) == 1


def clear(connection: Connection, keys: Sequence[str]) -> None:
    """A success: these counters start afresh."""
    if keys:
        connection.execute(delete(_THROTTLE).where(_C.key.in_(list(keys))))


def clear_ceiling(connection: Connection, username_key: str) -> None:
    """An administrator issued a new pass: the account's consecutive count starts afresh."""
    connection.execute(delete(_THROTTLE).where(_C.key == CEILING_PREFIX + username_key))


def purge(connection: Connection, before: datetime) -> None:
    """Counters quiet since `before` and not locked past it (never the ceiling's: only a success ends
    those)."""
    connection.execute(
        delete(_THROTTLE).where(
            _C.last_at < before,
            or_(_C.locked_until.is_(None), _C.locked_until < before),
            not_(_C.key.startswith(CEILING_PREFIX)),
        )
    )
