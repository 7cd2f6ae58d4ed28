"""Dual control's SQL: its settings row, the requests, and each change of state as one conditional
statement, so two administrators deciding at once, on any nodes, make one decision and one pass."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, or_, select, update

from passbridge.passes.approval_rules import ApprovalSettings, State
from passbridge.store.models import PassApprovalRequest, PassApprovalSettingsRow, RoleAssignment, User
from passbridge.store.tx import Tx

SETTINGS_ID = "approval"
LIST_MAX = 200


def settings(tx: Tx, *, for_update: bool = False) -> tuple[ApprovalSettings, datetime | None]:
    row = tx.session.get(PassApprovalSettingsRow, SETTINGS_ID, with_for_update=for_update or None)
    if row is None:
        return ApprovalSettings(), None
    found = ApprovalSettings(
        enabled=row.enabled,
        for_role_holders=row.for_role_holders,
        lifetime_threshold_minutes=row.lifetime_threshold_minutes,
        request_expiry_minutes=row.request_expiry_minutes,
        collect_within_minutes=row.collect_within_minutes,
    )
    return found, row.last_modified


def save_settings(tx: Tx, value: ApprovalSettings, now: datetime) -> None:
    row = tx.session.get(PassApprovalSettingsRow, SETTINGS_ID)
    if row is None:
        row = PassApprovalSettingsRow(id=SETTINGS_ID)
        tx.session.add(row)
    row.enabled = value.enabled
    row.for_role_holders = value.for_role_holders
    row.lifetime_threshold_minutes = value.lifetime_threshold_minutes
    row.request_expiry_minutes = value.request_expiry_minutes
    row.collect_within_minutes = value.collect_within_minutes
    row.last_modified = now
    tx.session.flush()


def add(tx: Tx, row: PassApprovalRequest) -> None:
    tx.session.add(row)
    tx.session.flush()


def get(tx: Tx, request_id: str) -> PassApprovalRequest | None:
    return tx.session.get(PassApprovalRequest, request_id.strip().lower())


def refresh(tx: Tx, row: PassApprovalRequest) -> None:
    """Read the row again after a conditional statement changed it (or another transaction did)."""
    tx.session.refresh(row)


def listed(
    tx: Tx, *, states: Iterable[State] | None, now: datetime, limit: int = LIST_MAX
) -> list[tuple[PassApprovalRequest, User]]:
    """Requests with their target user, newest first. `states` are the states at `now` (state_at)."""
    query = select(PassApprovalRequest, User).join(User, User.id == PassApprovalRequest.user_id)
    if states is not None:
        wanted = set(states)
        clauses = []
        for state in wanted:
            if state is State.PENDING:
                clauses.append(
                    and_(PassApprovalRequest.state == State.PENDING, PassApprovalRequest.expires_at > now)
                )
            elif state is State.APPROVED:
                clauses.append(
                    and_(PassApprovalRequest.state == State.APPROVED, PassApprovalRequest.collect_by > now)
                )
            elif state is State.EXPIRED:
                clauses.append(
                    or_(
                        PassApprovalRequest.state == State.EXPIRED,
                        and_(
                            PassApprovalRequest.state == State.PENDING, PassApprovalRequest.expires_at <= now
                        ),
                        and_(
                            PassApprovalRequest.state == State.APPROVED,
                            PassApprovalRequest.collect_by <= now,
                        ),
                    )
                )
            else:
                clauses.append(PassApprovalRequest.state == state)
        query = query.where(or_(*clauses))
    query = query.order_by(PassApprovalRequest.created_at.desc(), PassApprovalRequest.id).limit(limit)
    return [(row, user) for row, user in tx.session.execute(query)]


def decide(
    tx: Tx,
    request_id: str,
    *,
    to: State,
    now: datetime,
    approver_id: str | None,
    approver_name: str,
    note: str | None,
    collect_by: datetime | None,
) -> bool:
    """Approve or deny a pending, unexpired request: True for the one caller whose statement changed it."""
    done = tx.execute(
        update(PassApprovalRequest)
        .where(
            PassApprovalRequest.id == request_id,
            PassApprovalRequest.state == State.PENDING,
            PassApprovalRequest.expires_at > now,
        )
        .values(
            state=to,
            decided_at=now,
            approver_id=approver_id,
            approver_name=approver_name,
            decision_note=note,
            collect_by=collect_by,
        )
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def claim_for_collection(tx: Tx, request_id: str, now: datetime) -> bool:
    """Mark an approved, uncollected request issued: True for the one caller that may create its pass."""
    done = tx.execute(
        update(PassApprovalRequest)
        .where(
            PassApprovalRequest.id == request_id,
            PassApprovalRequest.state == State.APPROVED,
            PassApprovalRequest.collect_by > now,
        )
        .values(state=State.ISSUED, issued_at=now)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def cancel(tx: Tx, request_id: str, now: datetime) -> bool:
    done = tx.execute(
        update(PassApprovalRequest)
        .where(
            PassApprovalRequest.id == request_id,
            or_(
                and_(PassApprovalRequest.state == State.PENDING, PassApprovalRequest.expires_at > now),
                and_(PassApprovalRequest.state == State.APPROVED, PassApprovalRequest.collect_by > now),
            ),
        )
        .values(state=State.CANCELLED, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def due_to_expire(tx: Tx, now: datetime, limit: int = LIST_MAX) -> list[str]:
    query = (
        select(PassApprovalRequest.id)
        .where(
            or_(
                and_(PassApprovalRequest.state == State.PENDING, PassApprovalRequest.expires_at <= now),
                and_(PassApprovalRequest.state == State.APPROVED, PassApprovalRequest.collect_by <= now),
            )
        )
        .limit(limit)
    )
    return list(tx.session.scalars(query))


def mark_expired(tx: Tx, request_id: str, now: datetime) -> bool:
    done = tx.execute(
        update(PassApprovalRequest)
        .where(
            PassApprovalRequest.id == request_id,
            or_(
                and_(PassApprovalRequest.state == State.PENDING, PassApprovalRequest.expires_at <= now),
                and_(PassApprovalRequest.state == State.APPROVED, PassApprovalRequest.collect_by <= now),
            ),
        )
        .values(state=State.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


def set_pass(tx: Tx, request_id: str, pass_id: str) -> None:
    tx.execute(
        update(PassApprovalRequest)
        .where(PassApprovalRequest.id == request_id)
        .values(pass_id=pass_id)
        .execution_options(synchronize_session=False)
    )


def users_holding(tx: Tx, role_ids: Iterable[str]) -> list[User]:
    """Enabled users holding any of `role_ids`, each once."""
    query = (
        select(User)
        .where(
            User.account_enabled.is_(True),
            User.id.in_(select(RoleAssignment.user_id).where(RoleAssignment.role_template_id.in_(role_ids))),
        )
        .order_by(User.upn_key)
    )
    return list(tx.session.scalars(query))
