"""Dual control for issuing passes (docs/dual-control.md): a pass for someone holding an administrator role,
or with a lifetime above the policy's threshold, exists only once a second administrator approved it.

Issuing such a pass stores a request instead (no pass, no value) and mails the administrators who may
approve it. Another administrator, never the requester, approves or denies; the requester hears by mail.
The requester then collects the approved request: the pass is created and its value drawn at that moment,
shown to them once, and never stored or mailed. Each change of state is one conditional statement
(approval_queries.py), so two approvers at once make one decision, and one collection makes one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passbridge.directory import queries as directory_store
from passbridge.directory.base import user_ref
from passbridge.directory.rules import Role
from passbridge.domain.errors import NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.methods.access import MethodAccess, check_reads_everyone
from passbridge.passes import approval_mail
from passbridge.passes import approval_queries as store
from passbridge.passes.approval_gate import ApprovalRequired
from passbridge.passes.approval_rules import (
    ApprovalSettings,
    RequestView,
    State,
    Timeline,
    closed,
    decision_note,
    state_at,
)
from passbridge.passes.rules import PassRequest, Purpose
from passbridge.passes.service import READ_SCOPES, SERVICE, WRITE_SCOPES, IssuedPass, TapService
from passbridge.services.context import Env, Principal
from passbridge.store.models import PassApprovalRequest, User
from passbridge.store.tx import Tx

SETTINGS_WRITERS = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.AUTHENTICATION_POLICY_ADMINISTRATOR})
SETTINGS_READERS = SETTINGS_WRITERS | {
    Role.GLOBAL_READER,
    Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    Role.AUTHENTICATION_ADMINISTRATOR,
}
SETTING_NAMES = {
    "enabled": "Enabled",
    "for_role_holders": "ForRoleHolders",
    "lifetime_threshold_minutes": "LifetimeThresholdMinutes",
    "request_expiry_minutes": "RequestExpiryMinutes",
    "collect_within_minutes": "CollectWithinMinutes",
}
# Who writes the entry when a request is found expired: no one decided it.
EXPIRY = Principal(kind="operator", id=None, display_name="Dual control")


def view_of(row: PassApprovalRequest, user: User, now: datetime) -> RequestView:
    state = state_at(Timeline(State(row.state), row.expires_at, row.collect_by), now)
    return RequestView(
        id=row.id,
        state=state,
        requester_kind=row.requester_kind,
        requester_id=row.requester_id,
        requester_name=row.requester_name,
        user_id=user.id,
        user_principal_name=user.user_principal_name,
        user_display_name=user.display_name,
        start_at=row.start_at,
        lifetime_minutes=row.lifetime_minutes,
        is_usable_once=row.is_usable_once,
        reason=row.reason,
        purpose=row.purpose,
        why=row.why,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_at=row.decided_at,
        collect_by=row.collect_by,
        approver_id=row.approver_id,
        approver_name=row.approver_name,
        decision_note=row.decision_note,
        issued_at=row.issued_at,
        pass_id=row.pass_id,
    )


def _same_identity(principal: Principal, kind: str, principal_id: str | None) -> bool:
    # The operator (the CLI on the host) has no id: it is one identity of its own.
    return principal.kind == kind and principal.id == principal_id


def _require_settings(principal: Principal, *, write: bool) -> None:
    if principal.is_operator:
        return
    roles = SETTINGS_WRITERS if write else SETTINGS_READERS
    if principal.kind == "application":
        wanted = "Policy.ReadWrite.AuthenticationMethod" if write else "Policy.Read.All"
        if {wanted, "Policy.ReadWrite.AuthenticationMethod"} & principal.app_permissions:
            return
        raise PermissionDenied(f"Insufficient privileges for dual control's settings. Requires {wanted}.")
    if principal.kind == "user" and principal.roles & roles:
        return
    names = " or ".join(sorted(r.display_name for r in roles))
    what = "change" if write else "read"
    raise PermissionDenied(
        f"Insufficient privileges to {what} dual control's settings: it needs the {names} role."
    )


@dataclass
class ApprovalService:
    tx: Tx
    env: Env
    principal: Principal

    # --- settings ----------------------------------------------------------------------------

    def settings(self) -> tuple[ApprovalSettings, datetime | None]:
        _require_settings(self.principal, write=False)
        return store.settings(self.tx)

    def set_settings(self, **changes: object) -> ApprovalSettings:
        """Change the settings; one audit entry lists what changed. Turning it on with nothing said about role
        holders asks for approval for them (the reason dual control exists)."""
        _require_settings(self.principal, write=True)
        current, _ = store.settings(self.tx, for_update=True)
        updated = current.with_changes(**changes)
        now = self.env.clock.now()
        changed = [
            audit.ModifiedProperty(SETTING_NAMES[name], getattr(current, name), getattr(updated, name))
            for name in SETTING_NAMES
            if getattr(current, name) != getattr(updated, name)
        ]
        store.save_settings(self.tx, updated, now)
        if changed:
            target = audit.TargetRef(
                "Policy", store.SETTINGS_ID, "Dual control for passes", None, tuple(changed)
            )
            audit.record(
                self.tx,
                now=now,
                principal=self.principal,
                activity="Update dual control for Temporary Access Passes",
                category="Policy",
                operation_type="Update",
                logged_by_service=SERVICE,
                targets=[target],
            )
        return updated

    # --- asking ------------------------------------------------------------------------------

    def issue_or_request(self, user_ref_text: str, wanted: PassRequest) -> IssuedPass | RequestView:
        """The pass, when dual control lets it be issued now; otherwise a stored pending request."""
        try:
            return TapService(self.tx, self.env, self.principal).issue(user_ref_text, wanted)
        except ApprovalRequired as needed:
            return self._request(needed, wanted)

    def _request(self, needed: ApprovalRequired, wanted: PassRequest) -> RequestView:
        settings, _ = store.settings(self.tx)
        now = self.env.clock.now()
        terms = needed.terms
        row = PassApprovalRequest(
            id=new_guid(),
            requester_kind=self.principal.kind,
            requester_id=self.principal.id,
            requester_name=self.principal.display_name[:256],
            user_id=needed.user.id,
            # No start asked for: the pass starts when it is collected.
            start_at=None if wanted.start is None else terms.start,
            lifetime_minutes=terms.lifetime_minutes,
            is_usable_once=terms.is_usable_once,
            reason=terms.reason,
            purpose=terms.purpose.value,
            why=needed.why[:512],
            state=State.PENDING.value,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.request_expiry_minutes),
        )
        store.add(self.tx, row)
        self._audit("Pass requested, approval needed", "Add", row, needed.user, {"why": needed.why})
        view = view_of(row, needed.user, now)
        approval_mail.tell_approvers(self.tx, self.env, view, self._approvers_for(needed.user))
        return view

    def _approvers_for(self, target: User) -> list[User]:
        """Who may approve: people whose roles let them issue this pass (Entra's tiers), not the requester nor
        the target."""
        roles = {Role.GLOBAL_ADMINISTRATOR, Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR}
        held = set(directory_store.role_ids_of(self.tx, target.id))
        if not held:
            roles.add(Role.AUTHENTICATION_ADMINISTRATOR)
        return [
            u
            for u in store.users_holding(self.tx, [r.value for r in roles])
            if u.id != target.id and not _same_identity(self.principal, "user", u.id)
        ]

    # --- reads -------------------------------------------------------------------------------

    def list(self, state: State | None = None) -> list[RequestView]:
        check_reads_everyone(self.principal, READ_SCOPES)
        now = self.env.clock.now()
        rows = store.listed(self.tx, states=None if state is None else [state], now=now)
        return [view_of(row, user, now) for row, user in rows]

    def get(self, request_id: str) -> RequestView:
        row, user = self._found(request_id)
        if not self._is_requester(row):
            check_reads_everyone(self.principal, READ_SCOPES)
        return view_of(row, user, self.env.clock.now())

    def _found(self, request_id: str) -> tuple[PassApprovalRequest, User]:
        # Ids are GUIDs: anything else (a NUL, a lone surrogate) never reaches the database.
        row = store.get(self.tx, request_id) if directory_store.is_guid(request_id.strip()) else None
        user = None if row is None else directory_store.user_by_id(self.tx, row.user_id)
        if row is None or user is None:
            raise NotFound(f"No temporaryAccessPassRequest with id '{request_id}' exists.", kind="request")
        return row, user

    def _is_requester(self, row: PassApprovalRequest) -> bool:
        return _same_identity(self.principal, row.requester_kind, row.requester_id)

    # --- deciding ----------------------------------------------------------------------------

    def approve(self, request_id: str, note: str | None = None) -> RequestView:
        return self._decide(request_id, State.APPROVED, note)

    def deny(self, request_id: str, note: str | None = None) -> RequestView:
        return self._decide(request_id, State.DENIED, note)

    def _decide(self, request_id: str, to: State, note_text: str | None) -> RequestView:
        verb = "approved" if to is State.APPROVED else "denied"
        note = decision_note(note_text)
        row, user = self._found(request_id)
        if self.principal.kind not in ("user", "operator"):
            raise PermissionDenied(
                f"A request is {verb} by a second administrator (a person, or the operator's CLI), "
                "not by an application."
            )
        if self._is_requester(row):
            raise PermissionDenied(
                f"You asked for this pass: another administrator must decide. A request cannot be {verb} by "
                "its requester."
            )
        # What issuing this pass would take (scopes, Entra's tiers; nobody approves a pass for themselves).
        MethodAccess(self.tx, self.env, self.principal).manager(user.id, WRITE_SCOPES, allow_self=False)
        now = self.env.clock.now()
        settings, _ = store.settings(self.tx)
        collect_by = (
            now + timedelta(minutes=settings.collect_within_minutes) if to is State.APPROVED else None
        )
        if not store.decide(
            self.tx,
            row.id,
            to=to,
            now=now,
            approver_id=self.principal.id,
            approver_name=self.principal.display_name[:256],
            note=note,
            collect_by=collect_by,
        ):
            store.refresh(self.tx, row)
            raise closed(verb, view_of(row, user, now).state)
        store.refresh(self.tx, row)
        activity = "Pass request approved" if to is State.APPROVED else "Pass request denied"
        self._audit(activity, "Update", row, user, {"note": note} if note else None)
        view = view_of(row, user, now)
        approval_mail.tell_requester(self.tx, self.env, view, self._requester_user(row))
        return view

    def cancel(self, request_id: str) -> RequestView:
        row, user = self._found(request_id)
        if not self._is_requester(row):
            raise PermissionDenied("Only the administrator who asked for this pass can cancel the request.")
        now = self.env.clock.now()
        if not store.cancel(self.tx, row.id, now):
            store.refresh(self.tx, row)
            raise closed("cancelled", view_of(row, user, now).state)
        store.refresh(self.tx, row)
        self._audit("Pass request cancelled", "Update", row, user)
        return view_of(row, user, now)

    # --- collecting --------------------------------------------------------------------------

    def collect(self, request_id: str) -> tuple[IssuedPass, RequestView]:
        """The requester creates the approved pass: its value is drawn now and returned once."""
        row, user = self._found(request_id)
        if not self._is_requester(row):
            raise PermissionDenied("Only the administrator who asked for this pass can collect it.")
        now = self.env.clock.now()
        if not store.claim_for_collection(self.tx, row.id, now):
            store.refresh(self.tx, row)
            raise closed("collected", view_of(row, user, now).state)
        start = row.start_at if row.start_at is not None and row.start_at > now else None
        wanted = PassRequest(
            start, row.lifetime_minutes, row.is_usable_once, row.reason, Purpose(row.purpose)
        )
        # Every check of issuing again, now: the requester's roles or the policy may have changed since.
        taps = TapService(self.tx, self.env, self.principal)
        planned = taps.plan(user.id, wanted, approved_request=row.id)
        value = planned.new_value()
        issued = taps.issue_planned(planned, value, self.env.keeper.slow_hash(value))
        store.set_pass(self.tx, row.id, issued.view.id)
        store.refresh(self.tx, row)
        self._audit("Approved pass collected", "Add", row, user, {"approvedBy": row.approver_name or ""})
        return issued, view_of(row, user, now)

    # --- the trail ---------------------------------------------------------------------------

    def expire_due(self) -> int:
        """Write down, with an audit entry each, the requests whose time ran out; how many. Reads show them
        expired anyway; the edges call this in a unit of work of its own before an action, so the entry
        stays even when the action is then refused (as acting on an expired request is)."""
        now = self.env.clock.now()
        expired = 0
        for request_id in store.due_to_expire(self.tx, now):
            if store.mark_expired(self.tx, request_id, now):
                row, user = self._found(request_id)
                store.refresh(self.tx, row)
                self._audit("Pass request expired", "Update", row, user, by=EXPIRY)
                expired += 1
        return expired

    def _requester_user(self, row: PassApprovalRequest) -> User | None:
        if row.requester_kind != "user" or row.requester_id is None:
            return None
        return directory_store.user_by_id(self.tx, row.requester_id)

    def _audit(
        self,
        activity: str,
        operation: str,
        row: PassApprovalRequest,
        user: User,
        details: dict[str, str] | None = None,
        *,
        by: Principal | None = None,
    ) -> None:
        # The request id, the terms and the people: never a pass (none exists until collection).
        facts = {"requestId": row.id, "lifetimeInMinutes": str(row.lifetime_minutes), **(details or {})}
        if row.reason:
            facts["reason"] = row.reason
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=by or self.principal,
            activity=activity,
            category="UserManagement",
            operation_type=operation,
            logged_by_service=SERVICE,
            result_reason=f"Temporary Access Pass request {row.state}",
            targets=[user_ref(user), audit.TargetRef("Other", row.id, "Temporary Access Pass request")],
            details=facts,
        )


def expire_due(tx: Tx, env: Env) -> int:
    """`ApprovalService.expire_due` for the edges, in a unit of work of its own before an action."""
    return ApprovalService(tx, env, EXPIRY).expire_due()
