"""The tenant's live passes, for the admin portal's inventory.

Live means not expired (`expires_at`, indexed, is after now): usable now, not yet valid, or a one-time pass
already used, kept in view until it would have expired so the helpdesk sees that the person signed in. The
select is an index range on `expires_at` joined to each pass's user, filtered and sorted in SQL, one page
at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from passbridge.store.models import TemporaryAccessPass, User
from passbridge.store.tx import Tx


class LiveSort(StrEnum):
    EXPIRES = "expires"
    CREATED = "created"
    START = "start"
    USER = "user"


class LiveState(StrEnum):
    ACTIVE = "active"  # valid now
    PENDING = "pending"  # not yet valid
    USED = "used"  # a one-time pass, spent


@dataclass(frozen=True)
class LiveFilter:
    user_prefix: str = ""  # the start of the holder's display name or sign-in name, any case
    state: LiveState | None = None
    one_time: bool | None = None
    sort: LiveSort = LiveSort.EXPIRES
    descending: bool = False


class LivePass(NamedTuple):
    id: str
    user_id: str
    user_display_name: str
    user_principal_name: str
    created_at: datetime
    start_at: datetime
    expires_at: datetime
    is_usable_once: bool
    used_at: datetime | None
    created_by_name: str | None

    def state(self, now: datetime) -> LiveState:
        if self.is_usable_once and self.used_at is not None:
            return LiveState.USED
        return LiveState.PENDING if self.start_at > now else LiveState.ACTIVE


_COLUMNS: tuple[Any, ...] = (
    TemporaryAccessPass.id,
    TemporaryAccessPass.user_id,
    User.display_name,
    User.user_principal_name,
    TemporaryAccessPass.created_at,
    TemporaryAccessPass.start_at,
    TemporaryAccessPass.expires_at,
    TemporaryAccessPass.is_usable_once,
    TemporaryAccessPass.used_at,
    TemporaryAccessPass.created_by_name,
)
_SORT_KEYS = {
    LiveSort.EXPIRES: TemporaryAccessPass.expires_at,
    LiveSort.CREATED: TemporaryAccessPass.created_at,
    LiveSort.START: TemporaryAccessPass.start_at,
    LiveSort.USER: func.lower(User.display_name),
}


def _prefix(column: InstrumentedAttribute[str], text: str) -> ColumnElement[bool]:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(escaped + "%", escape="\\")


def _live(now: datetime, wanted: LiveFilter) -> Select[Any]:
    query: Select[Any] = (
        select(*_COLUMNS)
        .join(User, User.id == TemporaryAccessPass.user_id)
        .where(TemporaryAccessPass.expires_at > now)
    )
    spent = and_(TemporaryAccessPass.is_usable_once.is_(True), TemporaryAccessPass.used_at.is_not(None))
    if wanted.user_prefix:
        query = query.where(
            or_(
                _prefix(User.display_name, wanted.user_prefix),
                _prefix(User.user_principal_name, wanted.user_prefix),
            )
        )
    if wanted.state is LiveState.ACTIVE:
        query = query.where(TemporaryAccessPass.start_at <= now, not_(spent))
    elif wanted.state is LiveState.PENDING:
        query = query.where(TemporaryAccessPass.start_at > now)
    elif wanted.state is LiveState.USED:
        query = query.where(spent)
    if wanted.one_time is not None:
        query = query.where(TemporaryAccessPass.is_usable_once.is_(wanted.one_time))
    return query


def live_passes(tx: Tx, now: datetime, wanted: LiveFilter, *, offset: int, limit: int) -> list[LivePass]:
    key = _SORT_KEYS[wanted.sort]
    order = (
        (key.desc(), TemporaryAccessPass.id.desc()) if wanted.descending else (key, TemporaryAccessPass.id)
    )
    query = _live(now, wanted).order_by(*order).offset(offset).limit(limit)
    return [LivePass._make(row) for row in tx.execute(query)]
