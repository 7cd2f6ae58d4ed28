"""The authentication methods policy: the TAP configuration row, mapped to and from the domain value,
and the policy-wide version and change time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol, cast

from sqlalchemy import select

from passbridge.passes.policy_rules import PolicyState, TapPolicy, Target
from passbridge.store.models import Group, MethodsPolicyRow, TapPolicyRow, User
from passbridge.store.tx import Tx

TAP_POLICY_ID = "TemporaryAccessPass"
METHODS_POLICY_ID = "authenticationMethodsPolicy"


@dataclass(frozen=True)
class PolicyStamp:
    """The policy-wide version (moves on every change) and when it last changed."""

    version: int
    last_modified: datetime | None


def _targets(rows: list[dict[str, object]]) -> tuple[Target, ...]:
    return tuple(
        Target(str(r["targetType"]), str(r["id"]), bool(r.get("isRegistrationRequired", False))) for r in rows
    )


def _rows(targets: tuple[Target, ...]) -> list[dict[str, object]]:
    return [
        {"targetType": t.target_type, "id": t.id, "isRegistrationRequired": t.is_registration_required}
        for t in targets
    ]


# The columns `policy_of` reads, labelled so that a select joining other tables keeps them apart.
POLICY_COLUMNS = (
    TapPolicyRow.state.label("policy_state"),
    TapPolicyRow.default_lifetime.label("policy_default_lifetime"),
    TapPolicyRow.default_length.label("policy_default_length"),
    TapPolicyRow.minimum_lifetime.label("policy_minimum_lifetime"),
    TapPolicyRow.maximum_lifetime.label("policy_maximum_lifetime"),
    TapPolicyRow.is_usable_once.label("policy_is_usable_once"),
    TapPolicyRow.include_targets.label("policy_include_targets"),
    TapPolicyRow.exclude_targets.label("policy_exclude_targets"),
    TapPolicyRow.last_modified.label("policy_last_modified"),
    TapPolicyRow.include_symbols.label("policy_include_symbols"),
    TapPolicyRow.require_reason.label("policy_require_reason"),
    TapPolicyRow.enforced_purpose.label("policy_enforced_purpose"),
    TapPolicyRow.revoke_multi_use_after_passkey.label("policy_revoke_multi_use_after_passkey"),
)
# Every method read loads the policy: a Core select of its columns skips the ORM's per-query work.
_TAP_POLICY = select(*POLICY_COLUMNS).where(TapPolicyRow.id == TAP_POLICY_ID)


class PolicyRow(NamedTuple):
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


class PolicyColumns(Protocol):
    """A row holding POLICY_COLUMNS: every row type of a select that joins the policy (all None when the
    policy was never saved: an outer join)."""

    @property
    def policy_state(self) -> str | None: ...
    @property
    def policy_default_lifetime(self) -> int | None: ...
    @property
    def policy_default_length(self) -> int | None: ...
    @property
    def policy_minimum_lifetime(self) -> int | None: ...
    @property
    def policy_maximum_lifetime(self) -> int | None: ...
    @property
    def policy_is_usable_once(self) -> bool | None: ...
    @property
    def policy_include_targets(self) -> list[dict[str, object]] | None: ...
    @property
    def policy_exclude_targets(self) -> list[dict[str, object]] | None: ...
    @property
    def policy_include_symbols(self) -> bool | None: ...
    @property
    def policy_require_reason(self) -> bool | None: ...
    @property
    def policy_enforced_purpose(self) -> str | None: ...
    @property
    def policy_revoke_multi_use_after_passkey(self) -> bool | None: ...


def policy_of(row: PolicyColumns) -> TapPolicy:
    """The policy in a row holding POLICY_COLUMNS; the defaults when it was never saved."""
    if row.policy_state is None:
        return TapPolicy()
    return TapPolicy(
        state=PolicyState(row.policy_state),
        # A saved policy row has every column (NOT NULL): only an absent one gives NULLs, handled above.
        default_lifetime=cast(int, row.policy_default_lifetime),
        default_length=cast(int, row.policy_default_length),
        minimum_lifetime=cast(int, row.policy_minimum_lifetime),
        maximum_lifetime=cast(int, row.policy_maximum_lifetime),
        is_usable_once=bool(row.policy_is_usable_once),
        include_targets=_targets(row.policy_include_targets or []),
        exclude_targets=_targets(row.policy_exclude_targets or []),
        include_symbols=bool(row.policy_include_symbols),
        require_reason=bool(row.policy_require_reason),
        enforced_purpose=row.policy_enforced_purpose,
        revoke_multi_use_after_passkey=bool(row.policy_revoke_multi_use_after_passkey),
    )


def _policy_of_row(row: TapPolicyRow) -> TapPolicy:
    return TapPolicy(
        state=PolicyState(row.state),
        default_lifetime=row.default_lifetime,
        default_length=row.default_length,
        minimum_lifetime=row.minimum_lifetime,
        maximum_lifetime=row.maximum_lifetime,
        is_usable_once=row.is_usable_once,
        include_targets=_targets(row.include_targets),
        exclude_targets=_targets(row.exclude_targets),
        include_symbols=row.include_symbols,
        require_reason=row.require_reason,
        enforced_purpose=row.enforced_purpose,
        revoke_multi_use_after_passkey=row.revoke_multi_use_after_passkey,
    )


def _tracked(tx: Tx) -> bool:
    """Whether this session holds the policy row, maybe changed and not flushed: then only the ORM
    sees what the unit of work has done so far."""
    key = tx.session.identity_key(TapPolicyRow, TAP_POLICY_ID)
    return key in tx.session.identity_map or any(isinstance(o, TapPolicyRow) for o in tx.session.new)


def load(tx: Tx, *, for_update: bool = False) -> tuple[TapPolicy, datetime | None]:
    """The TAP policy. `for_update` locks the row so read-validate-write cannot interleave with
    another writer (PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE)."""
    if for_update or _tracked(tx):
        tracked = tx.session.get(TapPolicyRow, TAP_POLICY_ID, with_for_update=for_update or None)
        if tracked is None:
            return TapPolicy(), None
        return _policy_of_row(tracked), tracked.last_modified
    found = tx.execute(_TAP_POLICY).first()
    if found is None:
        return TapPolicy(), None
    row = PolicyRow._make(found)
    return policy_of(row), row.policy_last_modified


def save(tx: Tx, policy: TapPolicy, *, now: datetime) -> None:
    row = tx.session.get(TapPolicyRow, TAP_POLICY_ID)
    if row is None:
        row = TapPolicyRow(id=TAP_POLICY_ID)
        tx.session.add(row)
    row.state = policy.state.value
    row.default_lifetime = policy.default_lifetime
    row.default_length = policy.default_length
    row.minimum_lifetime = policy.minimum_lifetime
    row.maximum_lifetime = policy.maximum_lifetime
    row.is_usable_once = policy.is_usable_once
    row.include_symbols = policy.include_symbols
    row.require_reason = policy.require_reason
    row.enforced_purpose = policy.enforced_purpose
    row.revoke_multi_use_after_passkey = policy.revoke_multi_use_after_passkey
    row.include_targets = _rows(policy.include_targets)
    row.exclude_targets = _rows(policy.exclude_targets)
    row.last_modified = now
    _bump(tx, now)


def bump_version(tx: Tx, now: datetime) -> None:
    """Move the policy-wide version and time: every change to any method configuration calls it."""
    _bump(tx, now)


def _bump(tx: Tx, now: datetime) -> None:
    stamp = tx.session.get(MethodsPolicyRow, METHODS_POLICY_ID, with_for_update=True)
    if stamp is None:
        tx.session.add(MethodsPolicyRow(id=METHODS_POLICY_ID, version=1, last_modified=now))
        return
    stamp.version += 1
    stamp.last_modified = now


def stamp(tx: Tx) -> PolicyStamp:
    row = tx.session.get(MethodsPolicyRow, METHODS_POLICY_ID)
    if row is None:
        return PolicyStamp(0, None)
    return PolicyStamp(row.version, row.last_modified)


def existing_group_ids(tx: Tx, ids: Iterable[str]) -> set[str]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set(tx.session.scalars(select(Group.id).where(Group.id.in_(wanted))))


def existing_user_ids(tx: Tx, ids: Iterable[str]) -> set[str]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set(tx.session.scalars(select(User.id).where(User.id.in_(wanted))))
