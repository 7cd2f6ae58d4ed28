"""Provisioning tokens: how an HR system or upstream directory authenticates to /scim/v2.

A token is shown once, when it is made, and kept only as its keyed hash (like client secrets), so a
stolen database does not provision. Each token acts as an application holding User.ReadWrite.All and
Group.ReadWrite.All, named after the token in every audit entry its changes write.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from passbridge.directory.rules import Role, check_display_name
from passbridge.domain.errors import Conflict, NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.logs.audit import TargetRef
from passbridge.services.context import Env, Principal
from passbridge.store.models import ProvisioningToken
from passbridge.store.tx import Tx

PREFIX = "pbscim_"
PERMISSIONS = frozenset({"User.ReadWrite.All", "Group.ReadWrite.All"})
# Who may make and revoke them besides the operator: whoever may write users in the portal would hand that
# right to a machine, so only a Global Administrator, as with application permissions.
MANAGERS = frozenset({Role.GLOBAL_ADMINISTRATOR})
READERS = MANAGERS | {Role.GLOBAL_READER}


@dataclass(frozen=True)
class NewToken:
    token: ProvisioningToken
    value: str  # shown once, never stored


def is_provisioning_token(bearer: str) -> bool:
    return bearer.startswith(PREFIX)


def principal_of(token: ProvisioningToken, ip_address: str | None) -> Principal:
    return Principal(
        kind="application",
        id=token.id,
        display_name=f"Provisioning token {token.name}",
        app_id=token.id,
        app_permissions=PERMISSIONS,
        ip_address=ip_address,
    )


def authenticate(tx: Tx, env: Env, bearer: str, ip_address: str | None) -> Principal | None:
    """The principal a live token stands for, its use recorded; None for any other value."""
    if not is_provisioning_token(bearer):
        return None
    digest = env.keeper.keyed_hash(bearer)
    token = tx.session.scalars(
        select(ProvisioningToken).where(ProvisioningToken.secret_hash == digest)
    ).first()
    if token is None or token.revoked_at is not None:
        return None
    now = env.clock.now()
    # One write per minute at most: a sync pushing thousands of requests should not rewrite the row each time.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= 60:
        tx.execute(update(ProvisioningToken).where(ProvisioningToken.id == token.id).values(last_used_at=now))
    return principal_of(token, ip_address)


def _target(token: ProvisioningToken) -> TargetRef:
    return TargetRef("Other", token.id, f"Provisioning token {token.name}", None)


@dataclass
class ProvisioningTokens:
    tx: Tx
    env: Env
    principal: Principal

    def _require(self, roles: frozenset[Role]) -> None:
        if self.principal.kind == "application":
            raise PermissionDenied("Provisioning tokens are managed by an administrator or the operator.")
        if self.principal.kind == "user" and not (self.principal.roles & roles):
            names = " or ".join(sorted(r.display_name for r in roles))
            raise PermissionDenied(f"Managing provisioning tokens needs the {names} role.")

    def add(self, name: str) -> NewToken:
        self._require(MANAGERS)
        clean = check_display_name(name, what="name", limit=128)
        if any(t.name.casefold() == clean.casefold() for t in self.list() if t.revoked_at is None):
            raise Conflict(f"A provisioning token named '{clean}' already exists.")
        value = PREFIX + secrets.token_urlsafe(32)
        now = self.env.clock.now()
        token = ProvisioningToken(
            id=new_guid(),
            name=clean,
            secret_hash=self.env.keeper.keyed_hash(value),
            created_at=now,
            created_by=self.principal.display_name,
        )
        self.tx.session.add(token)
        self.tx.session.flush()
        self._audit("Add provisioning token", "Add", token, now)
        return NewToken(token, value)

    def list(self) -> list[ProvisioningToken]:
        self._require(READERS)
        query = select(ProvisioningToken).order_by(ProvisioningToken.created_at, ProvisioningToken.id)
        return list(self.tx.session.scalars(query))

    def find(self, ref: str) -> ProvisioningToken:
        """By id or by name (a live token's name first)."""
        tokens = self.list()
        matches = [t for t in tokens if t.id == ref.strip().lower()] or [
            t for t in tokens if t.name.casefold() == ref.strip().casefold()
        ]
        live = [t for t in matches if t.revoked_at is None]
        if not (live or matches):
            raise NotFound(f"No provisioning token '{ref}'.")
        return (live or matches)[0]

    def revoke(self, ref: str) -> ProvisioningToken:
        self._require(MANAGERS)
        token = self.find(ref)
        if token.revoked_at is None:
            now = self.env.clock.now()
            token.revoked_at = now
            self.tx.session.flush()
            self._audit("Revoke provisioning token", "Delete", token, now)
        return token

    def _audit(self, activity: str, operation: str, token: ProvisioningToken, now: datetime) -> None:
        audit.record(
            self.tx,
            now=now,
            principal=self.principal,
            activity=activity,
            category="ApplicationManagement",
            operation_type=operation,
            targets=[_target(token)],
        )
