"""Issuing, reading and revoking Temporary Access Passes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from passbridge.domain import tap as rules
from passbridge.domain.directory import ADMIN_ROLES, Role
from passbridge.domain.errors import NotFound, PermissionDenied
from passbridge.domain.policy import TapPolicy
from passbridge.services import access, audit
from passbridge.services.context import Env, Principal
from passbridge.services.directory import DirectoryService, user_ref
from passbridge.store import directory as directory_store
from passbridge.store import policy as policy_store
from passbridge.store import taps as store
from passbridge.store.models import TemporaryAccessPass, User

WRITE = ("UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All")
READ = ("UserAuthenticationMethod.Read.All", "UserAuthMethod-TAP.Read.All", *WRITE)
SERVICE = "Authentication Methods"


@dataclass(frozen=True)
class PassView:
    """A pass as every read shows it: never the value."""

    row: TemporaryAccessPass
    reason: rules.UsabilityReason

    @property
    def end(self) -> datetime:
        return self.row.start_at + timedelta(minutes=self.row.lifetime_minutes)

    @property
    def is_usable(self) -> bool:
        return self.reason is rules.UsabilityReason.ENABLED_BY_POLICY


@dataclass(frozen=True)
class IssuedPass:
    view: PassView
    value: str  # the pass itself: returned to the issuer once, never stored or logged


@dataclass
class TapService:
    session: Session
    env: Env
    principal: Principal

    def _directory(self) -> DirectoryService:
        return DirectoryService(self.session, self.env, self.principal)

    def _check_may_manage(self, user: User) -> None:
        """Issuer tiers, as Entra has them, for delegated (user) callers."""
        if self.principal.kind != "user":
            return
        if self.principal.id == user.id:
            raise PermissionDenied("You cannot manage a Temporary Access Pass for yourself.")
        roles = self.principal.roles
        if Role.GLOBAL_ADMINISTRATOR in roles or Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR in roles:
            return
        if Role.AUTHENTICATION_ADMINISTRATOR in roles:
            target_roles = set(directory_store.role_ids_of(self.session, user.id))
            if target_roles & {r.value for r in ADMIN_ROLES}:
                raise PermissionDenied(
                    "An Authentication Administrator cannot manage passes of users who hold an "
                    "administrator role; a Privileged Authentication Administrator can."
                )
            return
        raise PermissionDenied(
            "Managing another user's Temporary Access Pass needs the Authentication "
            "Administrator role or higher."
        )

    def view(self, row: TemporaryAccessPass, policy: TapPolicy | None = None) -> PassView:
        if policy is None:
            policy, _ = policy_store.load(self.session)
        targeted = policy.targets(row.user_id, directory_store.group_ids_of(self.session, row.user_id))
        state = rules.PassState(row.start_at, row.lifetime_minutes, row.is_usable_once, row.used_at)
        return PassView(row, rules.usability(state, policy, targeted=targeted, now=self.env.clock.now()))

    def issue(self, user_ref_text: str, request: rules.PassRequest) -> IssuedPass:
        access.require_app_permission(self.principal, *WRITE)
        user = self._directory().find_user(user_ref_text)
        self._check_may_manage(user)
        policy, _ = policy_store.load(self.session)
        now = self.env.clock.now()
        terms = rules.decide_terms(request, policy, now=now)
        previous = store.of_user(self.session, user.id)
        if previous is not None:
            self._delete(user, previous)
        value = rules.generate_pass(terms.length)
        row = TemporaryAccessPass(
            id=str(uuid.uuid4()),
            user_id=user.id,
            created_at=now,
            start_at=terms.start,
            lifetime_minutes=terms.lifetime_minutes,
            is_usable_once=terms.is_usable_once,
            secret_hash=self.env.keeper.slow_hash(value),
        )
        self.session.add(row)
        audit.record(
            self.session,
            now=now,
            principal=self.principal,
            activity="Admin registered security info",
            category="UserManagement",
            operation_type="Add",
            logged_by_service=SERVICE,
            result_reason="Admin registered temporary access pass method for user",
            targets=[user_ref(user)],
        )
        return IssuedPass(self.view(row, policy), value)

    def _delete(self, user: User, row: TemporaryAccessPass) -> None:
        self.session.delete(row)
        self.session.flush()
        audit.record(
            self.session,
            now=self.env.clock.now(),
            principal=self.principal,
            activity="Admin deleted security info",
            category="UserManagement",
            operation_type="Delete",
            logged_by_service=SERVICE,
            result_reason="Admin deleted temporary access pass method for user",
            targets=[user_ref(user)],
        )

    def get(self, user_ref_text: str) -> PassView | None:
        access.require_app_permission(self.principal, *READ)
        user = self._directory().find_user(user_ref_text)
        row = store.of_user(self.session, user.id)
        return None if row is None else self.view(row)

    def revoke(self, user_ref_text: str) -> None:
        access.require_app_permission(self.principal, *WRITE)
        user = self._directory().find_user(user_ref_text)
        self._check_may_manage(user)
        row = store.of_user(self.session, user.id)
        if row is None:
            raise NotFound(f"{user.user_principal_name} has no Temporary Access Pass.", kind="method")
        self._delete(user, row)
