"""Issuing, reading and revoking Temporary Access Passes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passbridge import metrics
from passbridge.directory.service import user_ref
from passbridge.domain.errors import NotFound
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.methods.access import MethodAccess, Scopes, readable_methods
from passbridge.passes import approval_gate, notices, rules
from passbridge.passes import policy_queries as policy_store
from passbridge.passes import queries as store
from passbridge.passes.policy_rules import TapPolicy
from passbridge.passes.queries import PassRecord, UserMethods
from passbridge.services.context import Env, Principal
from passbridge.signin import throttle
from passbridge.store.models import TemporaryAccessPass, User
from passbridge.store.tx import Tx
from passbridge.tokens.revocation import revoke_after_admin_change

WRITE = ("UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All")
READ = ("UserAuthenticationMethod.Read.All", "UserAuthMethod-TAP.Read.All", *WRITE)
# Graph's "permissions acting on self" (delegated only); the `.All` ones include oneself.
OWN_WRITE = ("UserAuthenticationMethod.ReadWrite", *WRITE)
OWN_READ = ("UserAuthenticationMethod.Read", "UserAuthenticationMethod.ReadWrite", *READ)
READ_SCOPES = Scopes(others=READ, own=OWN_READ)
WRITE_SCOPES = Scopes(others=WRITE, own=OWN_WRITE)
SERVICE = "Authentication Methods"


@dataclass(frozen=True)
class PassView:
    """A pass as every read shows it: never the value (nor its hash)."""

    row: PassRecord
    reason: rules.UsabilityReason

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def end(self) -> datetime:
        return self.row.start_at + timedelta(minutes=self.row.lifetime_minutes)

    @property
    def is_usable(self) -> bool:
        return self.reason is rules.UsabilityReason.ENABLED_BY_POLICY


@dataclass(frozen=True)
class PlannedPass:
    """A pass `TapService.plan` allowed: for whom, under which policy, on which terms, decided when."""

    user: User
    policy: TapPolicy
    terms: rules.PassTerms
    now: datetime

    def new_value(self) -> str:
        return rules.generate_pass(self.terms.length, symbols=self.terms.symbols)


@dataclass(frozen=True)
class IssuedPass:
    view: PassView
    value: str  # the pass itself: returned to the issuer once, never stored or logged


def _view(tx: Tx, env: Env, row: PassRecord, policy: TapPolicy) -> PassView:
    """Usability is decided afresh from the current policy and targets at every read."""
    groups = store.group_ids_of(tx, row.user_id) if policy.needs_group_ids(row.user_id) else ()
    targeted = policy.targets(row.user_id, groups)
    state = rules.PassState(
        row.start_at, row.lifetime_minutes, row.is_usable_once, row.used_at, row.purpose, row.attempts
    )
    return PassView(row, rules.usability(state, policy, targeted=targeted, now=env.clock.now()))


def view_of(tx: Tx, env: Env, row: TemporaryAccessPass, policy: TapPolicy | None = None) -> PassView:
    """The view of a pass this unit of work holds as an ORM row (writes)."""
    if policy is None:
        policy, _ = policy_store.load(tx)
    return _view(tx, env, PassRecord.of(row), policy)


def pass_views(tx: Tx, env: Env, found: UserMethods) -> list[PassView]:
    """The user's passes (none or one) for the list of every method; the caller checked access."""
    return [] if found.tap is None else [_view(tx, env, found.tap, found.policy)]


def list_passes(tx: Tx, env: Env, principal: Principal, user_ref_text: str) -> list[PassView]:
    """The user's passes (none or one). Reads only, so the Graph edge may pass an autocommit Tx."""
    found = readable_methods(tx, principal, user_ref_text, READ_SCOPES)
    return pass_views(tx, env, found)


def get_pass(tx: Tx, env: Env, principal: Principal, user_ref_text: str, method_id: str) -> PassView:
    found = readable_methods(tx, principal, user_ref_text, READ_SCOPES)
    if found.tap is None or found.tap.id != method_id.strip().lower():
        raise _no_such_pass(method_id)
    return _view(tx, env, found.tap, found.policy)


@dataclass
class TapService:
    tx: Tx
    env: Env
    principal: Principal

    def _access(self) -> MethodAccess:
        return MethodAccess(self.tx, self.env, self.principal)

    def view(self, row: TemporaryAccessPass, policy: TapPolicy | None = None) -> PassView:
        return view_of(self.tx, self.env, row, policy)

    # --- writes ------------------------------------------------------------------------------

    def issue(self, user_ref_text: str, request: rules.PassRequest) -> IssuedPass:
        """Create a pass, replacing the user's previous one (Graph: one pass per user)."""
        planned = self.plan(user_ref_text, request)
        value = planned.new_value()
        # Hash before taking the lock: Argon2id is the slow part and needs no lock.
        return self.issue_planned(planned, value, self.env.keeper.slow_hash(value))

    def plan(
        self,
        user_ref_text: str,
        request: rules.PassRequest,
        policy: TapPolicy | None = None,
        *,
        approved_request: str | None = None,
    ) -> PlannedPass:
        """Every check of `issue` (permission, tier, policy terms) without writing anything: bulk issuing
        (passes/bulk.py) plans, hashes elsewhere, then plans again and stores in its write transaction,
        passing the `policy` it read once in that transaction. Dual control (approval_gate.py) raises
        ApprovalRequired unless `approved_request` names the approval that stands for the second
        administrator: the request passes/approval.py collects, or a recovery request an administrator
        approved (recovery/service.py)."""
        user = self._access().manager(user_ref_text, WRITE_SCOPES, allow_self=False)
        if policy is None:
            policy, _ = policy_store.load(self.tx)
        now = self.env.clock.now()
        terms = rules.decide_terms(request, policy, now=now)
        if approved_request is None:
            approval_gate.check(self.tx, user, terms)
        return PlannedPass(user, policy, terms, now)

    def issue_planned(
        self, planned: PlannedPass, value: str, secret_hash: str, locked: store.LockedOwners | None = None
    ) -> IssuedPass:
        """Store the pass `plan` allowed in this unit of work: `secret_hash` is `value`'s Argon2id hash.
        `locked`: the owners a bulk batch locked at once, with the passes they held then (bulk.py)."""
        user, policy, terms, now = planned.user, planned.policy, planned.terms, planned.now
        if locked is not None and user.id in locked.user_ids:
            previous = locked.passes.get(user.id)
        else:
            store.lock_owner(self.tx, user.id)
            previous = store.of_user(self.tx, user.id)
        if previous is not None:
            self._delete(user, previous, by_owner=False)
        row = TemporaryAccessPass(
            id=new_guid(),
            user_id=user.id,
            created_at=now,
            start_at=terms.start,
            lifetime_minutes=terms.lifetime_minutes,
            is_usable_once=terms.is_usable_once,
            secret_hash=secret_hash,
            expires_at=terms.start + timedelta(minutes=terms.lifetime_minutes),
            created_by_id=self.principal.id,
            created_by_name=self.principal.display_name,
            reason=terms.reason,
            purpose=terms.purpose.value,
        )
        store.add(self.tx, row)
        # A new pass is the recovery NIST SP 800-63B asks for after the consecutive-failure ceiling.
        throttle.clear_ceiling(self.tx, user.upn_key)
        audit.record(
            self.tx,
            now=now,
            principal=self.principal,
            activity="Admin registered security info",
            category="UserManagement",
            operation_type="Add",
            logged_by_service=SERVICE,
            result_reason="Admin registered temporary access pass method for user",
            targets=[user_ref(user)],
            details={"reason": terms.reason} if terms.reason else None,
        )
        # The holder hears of it (never the pass itself), with a "This wasn't me" link: in this
        # transaction, so there is a notice exactly when there is a pass.
        notices.notify_issued(self.tx, self.env, user, row)
        # Recovery: whoever lost a device gets a pass, and the sessions that device holds must end.
        revoke_after_admin_change(
            self.tx,
            self.env,
            self.principal,
            user,
            what="an administrator issued a Temporary Access Pass",
        )
        metrics.pass_issued()
        return IssuedPass(self.view(row, policy), value)

    def delete(self, user_ref_text: str, method_id: str) -> None:
        """Delete one pass by id; a user may delete their own."""
        user = self._access().manager(user_ref_text, WRITE_SCOPES, allow_self=True)
        store.lock_owner(self.tx, user.id)
        row = self._pass_of(user, method_id)
        self._delete(user, row, by_owner=self._access().is_self(user), revoke_sessions=True)

    def revoke(self, user_ref_text: str) -> None:
        """Delete whatever pass the user holds (the CLI's `tap revoke`)."""
        user = self._access().manager(user_ref_text, WRITE_SCOPES, allow_self=True)
        store.lock_owner(self.tx, user.id)
        row = store.of_user(self.tx, user.id)
        if row is None:
            raise NotFound(f"{user.user_principal_name} has no Temporary Access Pass.", kind="method")
        self._delete(user, row, by_owner=self._access().is_self(user), revoke_sessions=True)

    def _delete(
        self, user: User, row: TemporaryAccessPass, *, by_owner: bool, revoke_sessions: bool = False
    ) -> None:
        now = self.env.clock.now()
        # Graph: deleting a pass that is still usable revokes the user's sessions, since they may
        # have been opened with it; the owner removing their own pass keeps their session.
        if revoke_sessions and not by_owner and self.view(row).is_usable:
            user.sessions_valid_from = now
        store.remove(self.tx, row.id)
        who = "User" if by_owner else "Admin"
        audit.record(
            self.tx,
            now=now,
            principal=self.principal,
            activity=f"{who} deleted security info",
            category="UserManagement",
            operation_type="Delete",
            logged_by_service=SERVICE,
            result_reason=(
                "User deleted temporary access pass method"
                if by_owner
                else "Admin deleted temporary access pass method for user"
            ),
            targets=[user_ref(user)],
        )

    # --- reads -------------------------------------------------------------------------------

    def list(self, user_ref_text: str) -> list[PassView]:
        return list_passes(self.tx, self.env, self.principal, user_ref_text)

    def get_one(self, user_ref_text: str, method_id: str) -> PassView:
        return get_pass(self.tx, self.env, self.principal, user_ref_text, method_id)

    def get(self, user_ref_text: str) -> PassView | None:
        """The user's pass, if any (the CLI's `tap show`)."""
        views = self.list(user_ref_text)
        return views[0] if views else None

    def _pass_of(self, user: User, method_id: str) -> TemporaryAccessPass:
        row = store.of_user(self.tx, user.id)
        if row is None or row.id != method_id.strip().lower():
            raise _no_such_pass(method_id)
        return row


def _no_such_pass(method_id: str) -> NotFound:
    return NotFound(
        f"No temporaryAccessPassAuthenticationMethod with id '{method_id}' exists for this user.",
        kind="method",
    )
