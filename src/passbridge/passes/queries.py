"""Temporary Access Pass rows, and the one select behind every read of a user's methods.

Writes use the ORM. Reads return `PassRecord`, a plain value: the read of a user's methods
(`user_methods`) is one prebuilt Core select of the user joined with their pass and the TAP policy,
run as Core (no Session, no identity map; bench/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import bindparam, delete, select

from passbridge.directory.queries import is_guid
from passbridge.directory.rules import upn_key
from passbridge.fastpath.prepared import PreparedSelect
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy_rules import TapPolicy
from passbridge.passes.rules import Purpose
from passbridge.store.models import GroupMember, TapPolicyRow, TemporaryAccessPass, User
from passbridge.store.tx import Tx


@dataclass(frozen=True)
class PassRecord:
    """A stored pass without its hash."""

    id: str
    user_id: str
    created_at: datetime
    start_at: datetime
    lifetime_minutes: int
    is_usable_once: bool
    used_at: datetime | None
    last_used_at: datetime | None
    purpose: Purpose = Purpose.SIGN_IN
    attempts: int = 0

    @classmethod
    def of(cls, row: TemporaryAccessPass) -> PassRecord:
        return cls(
            row.id,
            row.user_id,
            row.created_at,
            row.start_at,
            row.lifetime_minutes,
            row.is_usable_once,
            row.used_at,
            row.last_used_at,
            Purpose(row.purpose),
            row.attempts or 0,
        )


@dataclass(frozen=True)
class UserMethods:
    """A user (by id), the pass they hold if any, and the TAP policy, as of one select."""

    user_id: str
    tap: PassRecord | None
    policy: TapPolicy


# The pass's columns as every methods read labels them (also methods/reads.py).
PASS_COLUMNS = (
    TemporaryAccessPass.id.label("pass_id"),
    TemporaryAccessPass.created_at.label("pass_created_at"),
    TemporaryAccessPass.start_at.label("pass_start_at"),
    TemporaryAccessPass.lifetime_minutes.label("pass_lifetime_minutes"),
    TemporaryAccessPass.is_usable_once.label("pass_is_usable_once"),
    TemporaryAccessPass.used_at.label("pass_used_at"),
    TemporaryAccessPass.last_used_at.label("pass_last_used_at"),
    TemporaryAccessPass.purpose.label("pass_purpose"),
    TemporaryAccessPass.attempts.label("pass_attempts"),
)
# The policy table holds one row per method kind; the join's condition names the TAP's row alone,
# so the select yields one row per user found, policy columns NULL when the policy was never saved.
_USER_METHODS = (
    select(User.id.label("user_id"), *PASS_COLUMNS, *policy_store.POLICY_COLUMNS)
    .select_from(User)
    .outerjoin(TemporaryAccessPass, TemporaryAccessPass.user_id == User.id)
    .outerjoin(TapPolicyRow, TapPolicyRow.id == policy_store.TAP_POLICY_ID)
)


class UserMethodsRow(NamedTuple):
    user_id: str
    pass_id: str | None
    pass_created_at: datetime | None
    pass_start_at: datetime | None
    pass_lifetime_minutes: int | None
    pass_is_usable_once: bool | None
    pass_used_at: datetime | None
    pass_last_used_at: datetime | None
    pass_purpose: str | None
    pass_attempts: int | None
    policy_state: str | None
    policy_default_lifetime: int | None
    policy_default_length: int | None
    policy_minimum_lifetime: int | None
    policy_maximum_lifetime: int | None
    policy_is_usable_once: bool | None
    policy_include_targets: list[dict[str, object]] | None
    policy_exclude_targets: list[dict[str, object]] | None
    policy_last_modified: datetime | None
    policy_include_symbols: bool | None
    policy_require_reason: bool | None
    policy_enforced_purpose: str | None
    policy_revoke_multi_use_after_passkey: bool | None

    def tap(self) -> PassRecord | None:
        """The pass in this row (PASS_COLUMNS), if there is one."""
        if self.pass_id is None:
            return None
        # A pass row has every column (NOT NULL) but the two times of use: only an absent one gives NULLs.
        return PassRecord(
            self.pass_id,
            self.user_id,
            cast(datetime, self.pass_created_at),
            cast(datetime, self.pass_start_at),
            cast(int, self.pass_lifetime_minutes),
            bool(self.pass_is_usable_once),
            self.pass_used_at,
            self.pass_last_used_at,
            Purpose(self.pass_purpose or Purpose.SIGN_IN),
            self.pass_attempts or 0,
        )


# On the driver's cursor (fastpath/prepared.py): SQLAlchemy's execute cost more than SQLite's work here.
_BY_ID = PreparedSelect(_USER_METHODS.where(User.id == bindparam("ref")), UserMethodsRow)
_BY_UPN = PreparedSelect(_USER_METHODS.where(User.upn_key == bindparam("ref")), UserMethodsRow)
_GROUP_IDS = select(GroupMember.group_id).where(GroupMember.user_id == bindparam("user_id"))


def user_methods(tx: Tx, ref: str) -> UserMethods | None:
    """The user named by object id or userPrincipalName (as Graph paths name them), or None."""
    if is_guid(ref):
        statement, key = _BY_ID, ref.lower()
    else:
        statement, key = _BY_UPN, upn_key(ref)
    row = statement.first(tx, ref=key)
    if row is None:
        return None
    return UserMethods(row.user_id, row.tap(), policy_store.policy_of(row))


def group_ids_of(tx: Tx, user_id: str) -> list[str]:
    """The groups `user_id` belongs to directly (for policies that target groups)."""
    return list(tx.connection().execute(_GROUP_IDS, {"user_id": user_id}).scalars())


# Built once, so SQLAlchemy computes its cache key once: every method read runs it.
_OF_USER = select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == bindparam("user_id"))


def of_user(tx: Tx, user_id: str) -> TemporaryAccessPass | None:
    return tx.session.scalars(_OF_USER, {"user_id": user_id}).first()


def lock_owner(tx: Tx, user_id: str) -> None:
    """Serialise pass changes for one user across transactions and processes.

    PostgreSQL holds the user row until commit, so a second issuer waits, then (read committed)
    sees the first one's pass and replaces it instead of colliding on the unique user_id. SQLite
    needs nothing here: a writing unit already holds the database's write lock (BEGIN IMMEDIATE), and
    SQLite has no FOR UPDATE, so the select would only cost (bulk issuing runs it thousands of times).
    """
    if tx.dialect == "sqlite":
        return
    tx.session.execute(select(User.id).where(User.id == user_id).with_for_update())


@dataclass(frozen=True)
class LockedOwners:
    """Users locked as `lock_owner` locks one (loaded, so the session finds them without a select), and
    the passes they held once locked."""

    users: list[User]
    passes: dict[str, TemporaryAccessPass]
    user_ids: frozenset[str]


def lock_owners(tx: Tx, user_ids: Sequence[str]) -> LockedOwners:
    """`lock_owner` and `of_user` for many users in two statements (bulk issuing's batches), in id order so
    two batches cannot deadlock. The caller issues for each user once: a pass it adds is not in `passes`."""
    if not user_ids:
        return LockedOwners([], {}, frozenset())
    query = select(User).where(User.id.in_(list(user_ids))).order_by(User.id)
    users = list(tx.session.scalars(query if tx.dialect == "sqlite" else query.with_for_update()))
    held = tx.session.scalars(
        select(TemporaryAccessPass).where(TemporaryAccessPass.user_id.in_(list(user_ids)))
    )
    return LockedOwners(users, {row.user_id: row for row in held}, frozenset(u.id for u in users))


def add(tx: Tx, row: TemporaryAccessPass) -> None:
    tx.session.add(row)
    tx.session.flush()


def remove(tx: Tx, pass_id: str) -> int:
    # A Core delete reports 0 rows instead of raising when a racing transaction removed it first.
    result = tx.execute(delete(TemporaryAccessPass).where(TemporaryAccessPass.id == pass_id))
    return int(result.rowcount)


def remove_for_user(tx: Tx, user_id: str) -> int:
    result = tx.execute(delete(TemporaryAccessPass).where(TemporaryAccessPass.user_id == user_id))
    return int(result.rowcount)
