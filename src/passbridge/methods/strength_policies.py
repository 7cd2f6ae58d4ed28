"""Authentication strength policies: Entra's three built-in ones (methods/strength.py, read-only) and the
tenant's custom ones (the `authentication_strength_policy` table), as Graph's authenticationStrengthPolicy.

An application may require any of them by id (directory/apps.py stores the id); tokens/authorize.py asks
`find` for the policy an application or an `acr_values` names. Reading takes Policy.Read.All (or a write
permission); changing takes Policy.ReadWrite.AuthenticationMethod (or Policy.ReadWrite.ConditionalAccess),
as Graph's reference says. Graph's roles for these APIs (Conditional Access and Security Administrator)
do not exist in Passbridge: the roles that manage the authentication methods policy stand in for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from passbridge.directory import access
from passbridge.directory.rules import Role
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.logs.audit import ModifiedProperty, TargetRef
from passbridge.methods.strength import (
    BUILT_IN,
    CUSTOM_TYPE,
    BadCombination,
    Combination,
    StrengthPolicy,
    built_in,
    parse_combination,
)
from passbridge.services.context import Env, Principal
from passbridge.store.models import Application, StrengthPolicyRow
from passbridge.store.tx import Tx

READ = ("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess", "Policy.ReadWrite.AuthenticationMethod")
WRITE = ("Policy.ReadWrite.ConditionalAccess", "Policy.ReadWrite.AuthenticationMethod")
WRITE_ROLES = frozenset({Role.AUTHENTICATION_POLICY_ADMINISTRATOR, Role.GLOBAL_ADMINISTRATOR})
READ_ROLES = WRITE_ROLES | {Role.GLOBAL_READER}
SERVICE = "Conditional Access"
MAX_NAME = 256
MAX_DESCRIPTION = 1024
BUILT_IN_READ_ONLY = "Built-in authentication strength policies cannot be modified or deleted."


def _policy(row: StrengthPolicyRow) -> StrengthPolicy:
    return StrengthPolicy(
        row.id,
        row.display_name,
        row.description,
        CUSTOM_TYPE,
        tuple(parse_combination(text) for text in row.allowed_combinations),
        row.created_at,
        row.modified_at,
    )


def _custom_row(tx: Tx, policy_id: str) -> StrengthPolicyRow | None:
    try:
        canonical = str(uuid.UUID(policy_id))
    except ValueError:
        return None
    row: StrengthPolicyRow | None = tx.session.get(StrengthPolicyRow, canonical)
    return row


def find(tx: Tx, reference: str) -> StrengthPolicy | None:
    """A policy by id, by display name (any case), or by Passbridge's older built-in names (`mfa`, ...).
    Built-in references need no query."""
    found = built_in(reference)
    if found is not None:
        return found
    row = _custom_row(tx, reference)
    if row is None:
        row = tx.session.scalars(
            select(StrengthPolicyRow).where(StrengthPolicyRow.name_key == reference.strip().casefold())
        ).first()
    if row is None:
        for policy in BUILT_IN.values():
            if policy.display_name.casefold() == reference.strip().casefold():
                return policy
        return None
    return _policy(row)


def all_policies(tx: Tx) -> list[StrengthPolicy]:
    """Built-in first, in Graph's order, then the custom ones by creation."""
    rows = tx.session.scalars(select(StrengthPolicyRow).order_by(StrengthPolicyRow.created_at)).all()
    return [*BUILT_IN.values(), *(_policy(r) for r in rows)]


def parse_combinations(texts: Sequence[str]) -> tuple[Combination, ...]:
    """allowedCombinations as given: at least one, each a known mode, duplicates dropped."""
    if not texts:
        raise InvalidInput("allowedCombinations must contain at least one authentication method combination.")
    try:
        return tuple(dict.fromkeys(parse_combination(text) for text in texts))
    except BadCombination as bad:
        raise InvalidInput(str(bad)) from None


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInput("displayName is required and must not be empty.")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"displayName must be at most {MAX_NAME} characters.")
    return cleaned


def _check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description must be at most {MAX_DESCRIPTION} characters.")
    return description


@dataclass(frozen=True)
class CombinationsUpdate:
    """Graph's updateAllowedCombinationsResult."""

    previous: list[str]
    current: list[str]
    references: list[str]  # the applications that require the policy (Graph: Conditional Access policies)


def _check(principal: Principal, permissions: tuple[str, ...], roles: frozenset[Role], what: str) -> None:
    access.require_app_permission(principal, *permissions)
    if principal.kind == "user" and not principal.roles & roles:
        names = " or ".join(sorted(r.display_name for r in roles))
        raise PermissionDenied(f"To {what} authentication strengths you need the role {names}.")


def require_may_read(principal: Principal) -> None:
    _check(principal, READ, READ_ROLES, "read")


def require_may_change(principal: Principal) -> None:
    """Needs no database: edges call it before reading a body, so the unauthorised get 403, not 400."""
    _check(principal, WRITE, WRITE_ROLES, "change")


@dataclass
class StrengthService:
    tx: Tx
    env: Env
    principal: Principal

    def _check(self, permissions: tuple[str, ...], roles: frozenset[Role], what: str) -> None:
        _check(self.principal, permissions, roles, what)

    def require_may_change(self) -> None:
        require_may_change(self.principal)

    def list(self) -> list[StrengthPolicy]:
        self._check(READ, READ_ROLES, "read")
        return all_policies(self.tx)

    def get(self, policy_id: str) -> StrengthPolicy:
        self._check(READ, READ_ROLES, "read")
        found = BUILT_IN.get(policy_id.lower())
        if found is not None:
            return found
        row = _custom_row(self.tx, policy_id)
        if row is None:
            raise NotFound(
                f"Authentication strength policy '{policy_id}' was not found.", kind="authenticationStrength"
            )
        return _policy(row)

    def _editable(self, policy_id: str) -> StrengthPolicyRow:
        self.require_may_change()
        if policy_id.lower() in BUILT_IN:
            raise InvalidInput(BUILT_IN_READ_ONLY)
        row = _custom_row(self.tx, policy_id)
        if row is None:
            raise NotFound(
                f"Authentication strength policy '{policy_id}' was not found.", kind="authenticationStrength"
            )
        return row

    def _name_free(self, name: str, *, except_id: str | None = None) -> None:
        key = name.casefold()
        clash = any(p.display_name.casefold() == key for p in BUILT_IN.values())
        query = select(func.count()).select_from(StrengthPolicyRow).where(StrengthPolicyRow.name_key == key)
        if except_id is not None:
            query = query.where(StrengthPolicyRow.id != except_id)
        if clash or self.tx.session.scalar(query):
            raise InvalidInput(f"An authentication strength policy named '{name}' already exists.")

    def _flush_name(self, name: str) -> None:
        """Write now, so that a name taken by a concurrent request since `_name_free` looked (the unique
        `name_key`) is the same refusal, not a failed commit."""
        try:
            self.tx.session.flush()
        except IntegrityError:
            raise InvalidInput(f"An authentication strength policy named '{name}' already exists.") from None

    def _audit(
        self, activity: str, operation: str, policy: StrengthPolicyRow, *changes: ModifiedProperty
    ) -> None:
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=self.principal,
            activity=activity,
            category="Policy",
            operation_type=operation,
            logged_by_service=SERVICE,
            targets=[TargetRef("Policy", policy.id, policy.display_name, modified_properties=changes)],
        )

    def create(self, display_name: str, description: str, combinations: Sequence[str]) -> StrengthPolicy:
        self.require_may_change()
        name = _check_name(display_name)
        text = _check_description(description)
        allowed = [",".join(sorted(m.value for m in c)) for c in parse_combinations(combinations)]
        self._name_free(name)
        now = self.env.clock.now()
        row = StrengthPolicyRow(
            id=new_guid(),
            display_name=name,
            name_key=name.casefold(),
            description=text,
            allowed_combinations=allowed,
            created_at=now,
            modified_at=now,
        )
        self.tx.session.add(row)
        self._flush_name(name)
        self._audit(
            "Add authentication strength policy",
            "Add",
            row,
            ModifiedProperty("DisplayName", None, name),
            ModifiedProperty("AllowedCombinations", None, allowed),
        )
        return _policy(row)

    def update(self, policy_id: str, *, display_name: str | None, description: str | None) -> StrengthPolicy:
        row = self._editable(policy_id)
        changes: list[ModifiedProperty] = []
        if display_name is not None:
            name = _check_name(display_name)
            self._name_free(name, except_id=row.id)
            if name != row.display_name:
                changes.append(ModifiedProperty("DisplayName", row.display_name, name))
                row.display_name, row.name_key = name, name.casefold()
                self._flush_name(name)
        if description is not None and description != row.description:
            changes.append(ModifiedProperty("Description", row.description, _check_description(description)))
            row.description = description
        if changes:  # a PATCH that changes nothing is answered alike, and neither stamped nor audited
            row.modified_at = self.env.clock.now()
            self._audit("Update authentication strength policy", "Update", row, *changes)
        return _policy(row)

    def update_combinations(self, policy_id: str, combinations: Sequence[str]) -> CombinationsUpdate:
        row = self._editable(policy_id)
        allowed = [",".join(sorted(m.value for m in c)) for c in parse_combinations(combinations)]
        previous = list(row.allowed_combinations)
        row.allowed_combinations = allowed
        row.modified_at = self.env.clock.now()
        self._audit(
            "Update authentication strength policy",
            "Update",
            row,
            ModifiedProperty("AllowedCombinations", previous, allowed),
        )
        return CombinationsUpdate(previous, allowed, [*self._requiring(row.id)])

    def _requiring(self, policy_id: str) -> tuple[str, ...]:
        query = select(Application.app_id).where(func.lower(Application.required_strength) == policy_id)
        return tuple(self.tx.session.scalars(query))

    def delete(self, policy_id: str) -> None:
        row = self._editable(policy_id)
        users = self._requiring(row.id)
        if users:
            raise InvalidInput(
                f"The authentication strength policy '{row.display_name}' is required by "
                f"{len(users)} application(s) ({', '.join(users)}); change them first."
            )
        self._audit("Delete authentication strength policy", "Delete", row)
        self.tx.session.execute(delete(StrengthPolicyRow).where(StrengthPolicyRow.id == row.id))


def resolve(tx: Tx, reference: str) -> StrengthPolicy:
    """The policy an administrator named for an application (id or name), or a readable refusal."""
    found = find(tx, reference)
    if found is None:
        raise InvalidInput(
            f"No authentication strength '{reference}' exists. Give a strength's id or name "
            "(`passbridge strength list`), or one of mfa, passwordless-mfa, phishing-resistant-mfa."
        )
    return found
