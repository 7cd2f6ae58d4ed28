"""The one statement behind every read of a user's methods across kinds (Graph's `/authentication/methods`,
`fido2Methods`, `softwareOathMethods`): the user joined with their pass and the TAP policy (as
passes/queries.py `user_methods` reads them), UNION ALL their passkeys, UNION ALL their authenticator apps.

One round trip whatever the user holds: the first branch yields the user's row (none for an unknown
user), each other branch one row per method, every branch an indexed lookup. Columns a branch does not
have are NULLs typed like the column they stand in for, so the result processors (times, booleans,
JSON) apply to every row. No key material is selected: not the public key, not the sealed seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Select, bindparam, literal_column, null, select, type_coerce, union_all

from passbridge.directory.queries import is_guid
from passbridge.directory.rules import upn_key
from passbridge.fastpath.prepared import PreparedSelect
from passbridge.passes import policy_queries as policy_store
from passbridge.passes import queries as taps_store
from passbridge.passes.queries import UserMethods
from passbridge.store.models import (
    Fido2Credential,
    SoftwareOathMethod,
    TapPolicyRow,
    TemporaryAccessPass,
    User,
)
from passbridge.store.tx import Tx


@dataclass(frozen=True)
class PasskeySummary:
    """What reads show of a passkey: never its public key or credential id."""

    id: str
    user_id: str
    display_name: str
    aaguid: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class AppSummary:
    """What reads show of an authenticator app: never its seed."""

    id: str
    user_id: str
    display_name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class AllMethods(UserMethods):
    """A user, their pass and the TAP policy (as `UserMethods`), plus their passkeys and apps, each
    kind in registration order."""

    passkeys: tuple[PasskeySummary, ...] = ()
    apps: tuple[AppSummary, ...] = ()


_PASS = taps_store.PASS_COLUMNS
_METHOD = (
    Fido2Credential.id.label("method_id"),
    Fido2Credential.display_name.label("method_name"),
    Fido2Credential.aaguid.label("method_aaguid"),
    Fido2Credential.created_at.label("method_created_at"),
    Fido2Credential.last_used_at.label("method_last_used_at"),
)


def _nulls(columns: tuple[Any, ...]) -> list[ColumnElement[Any]]:
    return [type_coerce(null(), c.type).label(c.key) for c in columns]


class MethodRow(NamedTuple):
    """One row of the union: the user's (kind 'user': the user, their pass and the policy, as
    passes/queries.py's UserMethodsRow, then NULL method columns) or one method's (NULLs but the user id)."""

    kind: str
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
    method_id: str | None
    method_name: str | None
    method_aaguid: str | None
    method_created_at: datetime | None
    method_last_used_at: datetime | None

    def user(self) -> taps_store.UserMethodsRow:
        return taps_store.UserMethodsRow._make(self[1 : 1 + len(taps_store.UserMethodsRow._fields)])


def _statement(by_upn: bool) -> PreparedSelect[MethodRow]:
    ref: Any = bindparam("ref")
    user_branch: Any = (
        select(
            literal_column("'user'").label("kind"),
            User.id.label("user_id"),
            *_PASS,
            *policy_store.POLICY_COLUMNS,
            *_nulls(_METHOD),
        )
        .select_from(User)
        .outerjoin(TemporaryAccessPass, TemporaryAccessPass.user_id == User.id)
        .outerjoin(TapPolicyRow, TapPolicyRow.id == policy_store.TAP_POLICY_ID)
        .where(User.upn_key == ref if by_upn else User.id == ref)
    )
    others = (*_nulls(_PASS), *_nulls(policy_store.POLICY_COLUMNS))
    passkeys: Select[Any] = select(
        literal_column("'fido2'"),
        Fido2Credential.user_id,
        *others,
        Fido2Credential.id,
        Fido2Credential.display_name,
        Fido2Credential.aaguid,
        Fido2Credential.created_at,
        Fido2Credential.last_used_at,
    )
    apps: Select[Any] = select(
        literal_column("'softwareOath'"),
        SoftwareOathMethod.user_id,
        *others,
        SoftwareOathMethod.id,
        SoftwareOathMethod.display_name,
        null(),
        SoftwareOathMethod.created_at,
        SoftwareOathMethod.last_used_at,
    )
    if by_upn:
        passkeys = passkeys.join(User, User.id == Fido2Credential.user_id).where(User.upn_key == ref)
        apps = apps.join(User, User.id == SoftwareOathMethod.user_id).where(User.upn_key == ref)
    else:
        passkeys = passkeys.where(Fido2Credential.user_id == ref)
        apps = apps.where(SoftwareOathMethod.user_id == ref)
    # PreparedSelect reads the labels and types of the first branch, which a compound select exposes.
    return PreparedSelect(union_all(user_branch, passkeys, apps), MethodRow)  # type: ignore[arg-type]


_BY_ID = _statement(by_upn=False)
_BY_UPN = _statement(by_upn=True)


def all_methods(tx: Tx, ref: str) -> AllMethods | None:
    """The user named by object id or userPrincipalName with every method they hold, or None."""
    if is_guid(ref):
        statement, key = _BY_ID, ref.lower()
    else:
        statement, key = _BY_UPN, upn_key(ref)
    user: taps_store.UserMethodsRow | None = None
    passkeys: list[PasskeySummary] = []
    apps: list[AppSummary] = []
    for row in statement.all(tx, ref=key):
        if row.kind == "user":
            user = row.user()
            continue
        # A method row's id, name and creation are its table's NOT NULL columns.
        method_id, name = str(row.method_id), str(row.method_name)
        created = cast(datetime, row.method_created_at)
        if row.kind == "fido2":
            passkeys.append(
                PasskeySummary(
                    method_id, row.user_id, name, str(row.method_aaguid), created, row.method_last_used_at
                )
            )
        else:
            apps.append(AppSummary(method_id, row.user_id, name, created, row.method_last_used_at))
    if user is None:
        return None
    passkeys.sort(key=lambda p: (p.created_at, p.id))
    apps.sort(key=lambda a: (a.created_at, a.id))
    return AllMethods(user.user_id, user.tap(), policy_store.policy_of(user), tuple(passkeys), tuple(apps))
