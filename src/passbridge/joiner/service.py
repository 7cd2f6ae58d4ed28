"""The joiner workflow: a new hire's first credential ready on day one, without a helpdesk call.

For each new hire whose pass is due (joiner/rules.py), in one transaction: take their one run (its primary
key), check they have no method yet (as Entra requires) and someone to tell, issue the pass through
TapService (its rules, its audit entry, the policy's bounds), and put the mail that carries it to their
manager (and, if asked, to the private address HR gave) in the outbox. All of it commits together or not
at all, so a crash leaves the user to the next turn, and two processes never both issue: the second finds
the run taken. The pass is in the mail, sealed in the outbox until sent, and nowhere else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from passbridge.directory import queries as directory_store
from passbridge.directory.rules import Role
from passbridge.directory.service import user_ref
from passbridge.domain.errors import DomainError, PermissionDenied
from passbridge.joiner import queries as store
from passbridge.joiner.rules import JoinerSettings, pass_start, window
from passbridge.logs import audit
from passbridge.mail import templates
from passbridge.mail.outbox import Mail, enqueue
from passbridge.passes import policy_queries
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import PassView, TapService
from passbridge.services.context import Env, Principal
from passbridge.store.models import JoinerRun, User
from passbridge.store.tx import Tx

log = logging.getLogger("passbridge.joiner")
BATCH = 50
WORKFLOW = Principal(kind="operator", id=None, display_name="Joiner workflow")
MANAGERS = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR})
READERS = MANAGERS | {Role.GLOBAL_READER, Role.AUTHENTICATION_ADMINISTRATOR, Role.USER_ADMINISTRATOR}
SETTING_NAMES = {
    "enabled": "Enabled",
    "days_before": "DaysBeforeHireDate",
    "lifetime_minutes": "LifetimeInMinutes",
    "is_usable_once": "IsUsableOnce",
    "mail_private": "MailPrivateAddress",
}


def _require(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.is_operator:
        return
    if principal.kind == "application":
        # As the authentication methods policy: reading takes Policy.Read.All, changing the write permission.
        write = "Policy.ReadWrite.AuthenticationMethod"
        wanted = write if roles is MANAGERS else "Policy.Read.All"
        if {wanted, write} & principal.app_permissions:
            return
        raise PermissionDenied(f"Insufficient privileges to {what}. Requires {wanted}.")
    if principal.kind == "user" and principal.roles & roles:
        return
    names = " or ".join(sorted(r.display_name for r in roles))
    raise PermissionDenied(f"Insufficient privileges to {what}: it needs the {names} role.")


@dataclass
class JoinerService:
    tx: Tx
    env: Env
    principal: Principal

    def get(self) -> tuple[JoinerSettings, datetime | None]:
        _require(self.principal, READERS, "read the joiner workflow")
        return store.settings(self.tx)

    def set(self, **changes: object) -> JoinerSettings:
        """Change the settings; one audit entry lists what changed."""
        _require(self.principal, MANAGERS, "change the joiner workflow")
        current, _ = store.settings(self.tx, for_update=True)
        policy, _ = policy_queries.load(self.tx)
        now = self.env.clock.now()
        updated = current.with_changes(now=now, policy=policy, **changes)
        changed = [
            audit.ModifiedProperty(SETTING_NAMES[name], getattr(current, name), getattr(updated, name))
            for name in SETTING_NAMES
            if getattr(current, name) != getattr(updated, name)
        ]
        store.save_settings(self.tx, updated, now)
        if changed:
            target = audit.TargetRef("Policy", store.SETTINGS_ID, "Joiner workflow", None, tuple(changed))
            audit.record(
                self.tx,
                now=now,
                principal=self.principal,
                activity="Update joiner workflow",
                category="Policy",
                operation_type="Update",
                targets=[target],
            )
        return updated

    def runs(self, limit: int = 50) -> list[tuple[JoinerRun, User]]:
        _require(self.principal, READERS, "read the joiner workflow")
        return store.recent_runs(self.tx, limit)

    def upcoming(self, limit: int = 50) -> list[User]:
        _require(self.principal, READERS, "read the joiner workflow")
        return store.upcoming(self.tx, after=self.env.clock.now(), limit=limit)


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    issued: int = 0
    skipped: int = 0
    taken_elsewhere: int = 0


def run_due(env: Env) -> Outcome:
    """One turn: every due new hire, each in a transaction of their own (background.py's task)."""
    outcome = Outcome()
    with env.db.transaction("read") as tx:
        settings, _ = store.settings(tx)
        if not settings.enabled:
            return outcome
        oldest, latest = window(env.clock.now(), settings)
        due = store.candidates(tx, oldest=oldest, latest=latest, added_since=settings.enabled_at, limit=BATCH)
    for user_id in due:
        try:
            with env.db.transaction() as tx:
                state = _process(tx, env, user_id)
        except IntegrityError:
            # Another process inserted this user's run first, and committed: it is theirs.
            outcome.taken_elsewhere += 1
            continue
        if state == "issued":
            outcome.issued += 1
        elif state == "skipped":
            outcome.skipped += 1
        else:
            outcome.taken_elsewhere += 1
    return outcome


def _process(tx: Tx, env: Env, user_id: str) -> str | None:
    now = env.clock.now()
    settings, _ = store.settings(tx)
    if not settings.enabled or not store.claim(tx, user_id, now):
        return None
    run = store.run_of(tx, user_id)
    user = directory_store.user_by_id(tx, user_id)
    assert run is not None and user is not None and user.employee_hire_date is not None
    reason = _why_not(tx, user, settings)
    recipients = _recipients(tx, user, settings)
    if reason is None and not recipients:
        reason = "no manager with a mail address and no private address to send the pass to"
    if reason is None:
        try:
            issued = TapService(tx, env, WORKFLOW).issue(
                user.id,
                PassRequest(
                    start=pass_start(user.employee_hire_date, settings, now),
                    lifetime_minutes=settings.lifetime_minutes,
                    is_usable_once=settings.is_usable_once,
                    # Shown in the pass notice and the audit entry; also meets a policy that requires one.
                    reason=f"Joiner workflow: first day {user.employee_hire_date:%Y-%m-%d}",
                ),
            )
        except DomainError as refused:
            reason = f"the pass was refused: {refused.message}"[:256]
        else:
            for to, manager in recipients:
                enqueue(tx, env, _mail(env, tx, user, to, manager, issued.value, issued.view))
            run.state, run.pass_id, run.recipients = "issued", issued.view.id, [to for to, _ in recipients]
            _audit(tx, now, user, "success", f"Pass issued and mailed to {', '.join(run.recipients)}")
            tx.session.flush()
            return "issued"
    run.state, run.reason = "skipped", reason
    _audit(tx, now, user, "failure", f"No pass: {reason}")
    tx.session.flush()
    return "skipped"


def _why_not(tx: Tx, user: User, settings: JoinerSettings) -> str | None:
    if not user.account_enabled:
        return "the account is disabled"
    held = store.has_methods(tx, user.id)
    if held is not None:
        return f"they already have {held}"
    return None


def _recipients(tx: Tx, user: User, settings: JoinerSettings) -> list[tuple[str, bool]]:
    """(address, is the manager) pairs to mail the pass to."""
    found: list[tuple[str, bool]] = []
    manager = directory_store.user_by_id(tx, user.manager_id) if user.manager_id else None
    if manager is not None and manager.account_enabled and manager.mail:
        found.append((manager.mail, True))
    if settings.mail_private and user.other_mails:
        found.append((user.other_mails[0], False))
    return found


def _mail(env: Env, tx: Tx, user: User, to: str, manager: bool, value: str, view: PassView) -> Mail:
    tenant = directory_store.tenant(tx)
    manager_row = directory_store.user_by_id(tx, user.manager_id) if manager and user.manager_id else None
    text, html = templates.render(
        "joiner_pass",
        tenant=tenant.display_name if tenant else "Passbridge",
        for_manager=manager,
        manager=manager_row.display_name if manager_row else None,
        person=user.display_name,
        upn=user.user_principal_name,
        hire_date=user.employee_hire_date,
        code=value,
        grouped=" ".join(value[i : i + 4] for i in range(0, len(value), 4)),
        starts_at=view.row.start_at,
        ends_at=view.end,
        one_time=view.row.is_usable_once,
        sign_in_url=env.settings.base_url.rstrip("/") + "/login",
    )
    subject = (
        f"{user.display_name}'s Temporary Access Pass for their first day"
        if manager
        else "Your Temporary Access Pass for your first day"
    )
    return Mail(to=to, subject=subject, text=text, html=html, kind="joiner")


def _audit(tx: Tx, now: datetime, user: User, result: str, reason: str) -> None:
    audit.record(
        tx,
        now=now,
        principal=WORKFLOW,
        activity="Joiner workflow: Temporary Access Pass for a new hire",
        category="UserManagement",
        operation_type="Add",
        targets=[user_ref(user)],
        result=result,
        result_reason=reason[:512],
        logged_by_service="Lifecycle Workflows",
    )


def run_periodically(env: Env) -> None:
    """background.py's task."""
    outcome = run_due(env)
    if outcome.issued or outcome.skipped:
        log.info("joiner workflow: %d passes issued, %d new hires skipped", outcome.issued, outcome.skipped)
