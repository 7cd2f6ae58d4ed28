"""Bulk issuing's SQL: jobs, their items, and the pass rows the report reads. Core statements throughout:
a run writes thousands of items, and the ORM's unit of work would cost more than the statements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import bindparam, insert, select, update

from passbridge.directory.queries import is_guid
from passbridge.store.models import BulkPassItem, BulkPassJob, GroupMember, TemporaryAccessPass, User
from passbridge.store.tx import Tx

PENDING, ISSUED, REFUSED = "pending", "issued", "refused"


@dataclass(frozen=True)
class JobRecord:
    id: str
    requested_by_kind: str
    requested_by_id: str | None
    requested_by_name: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    state: str
    source: str
    start_at: datetime | None
    lifetime_minutes: int | None
    is_usable_once: bool | None
    total: int
    done: int
    issued: int
    refused: int
    keeps_result: bool
    result_taken_at: datetime | None
    message: str | None


_JOB_COLUMNS = tuple(BulkPassJob.__table__.c[name] for name in JobRecord.__dataclass_fields__)


@dataclass(frozen=True)
class ItemRecord:
    position: int
    target: str
    status: str
    user_id: str | None
    upn: str | None
    reason: str | None
    pass_id: str | None
    start_at: datetime | None
    expires_at: datetime | None
    is_usable_once: bool | None
    sealed_pass: str | None


_ITEM_COLUMNS = tuple(BulkPassItem.__table__.c[name] for name in ItemRecord.__dataclass_fields__)


def add_job(tx: Tx, job: BulkPassJob, targets: Sequence[str]) -> None:
    tx.insert(job)
    if targets:
        tx.connection().execute(
            insert(BulkPassItem),
            [
                {"job_id": job.id, "position": i, "target": t, "status": PENDING}
                for i, t in enumerate(targets)
            ],
        )


def job(tx: Tx, job_id: str) -> JobRecord | None:
    row = tx.execute(select(*_JOB_COLUMNS).where(BulkPassJob.id == job_id)).first()
    return None if row is None else JobRecord(**row._mapping)


def jobs_by(tx: Tx, requester_id: str | None, limit: int) -> list[JobRecord]:
    """The newest jobs `requester_id` started (the operator's when None)."""
    who = (
        BulkPassJob.requested_by_id.is_(None)
        if requester_id is None
        else BulkPassJob.requested_by_id == requester_id
    )
    query = select(*_JOB_COLUMNS).where(who).order_by(BulkPassJob.created_at.desc()).limit(limit)
    return [JobRecord(**row._mapping) for row in tx.execute(query)]


def pending(tx: Tx, job_id: str) -> list[tuple[int, str]]:
    query = (
        select(BulkPassItem.position, BulkPassItem.target)
        .where(BulkPassItem.job_id == job_id, BulkPassItem.status == PENDING)
        .order_by(BulkPassItem.position)
    )
    return [(int(p), str(t)) for p, t in tx.connection().execute(query)]


def issued_user_ids(tx: Tx, job_id: str) -> list[str]:
    query = select(BulkPassItem.user_id).where(BulkPassItem.job_id == job_id, BulkPassItem.status == ISSUED)
    return [str(u) for u in tx.execute(query).scalars()]


def items(tx: Tx, job_id: str) -> list[ItemRecord]:
    query = select(*_ITEM_COLUMNS).where(BulkPassItem.job_id == job_id).order_by(BulkPassItem.position)
    return [ItemRecord(**row._mapping) for row in tx.execute(query)]


_RECORD = (
    update(BulkPassItem)
    .where(BulkPassItem.job_id == bindparam("j"), BulkPassItem.position == bindparam("p"))
    .values(
        status=bindparam("status"),
        user_id=bindparam("user_id"),
        upn=bindparam("upn"),
        reason=bindparam("reason"),
        pass_id=bindparam("pass_id"),
        start_at=bindparam("start_at"),
        expires_at=bindparam("expires_at"),
        is_usable_once=bindparam("is_usable_once"),
        sealed_pass=bindparam("sealed_pass"),
    )
)


def record(tx: Tx, job_id: str, outcomes: Sequence[dict[str, Any]]) -> None:
    """Each outcome: the item's `p` (position) and the columns of _RECORD."""
    if outcomes:
        tx.connection().execute(_RECORD, [{"j": job_id, **o} for o in outcomes])


def advance(tx: Tx, job_id: str, *, issued: int, refused: int, now: datetime) -> None:
    """Count a written batch and beat the heartbeat."""
    tx.execute(
        update(BulkPassJob)
        .where(BulkPassJob.id == job_id)
        .values(
            done=BulkPassJob.done + issued + refused,
            issued=BulkPassJob.issued + issued,
            refused=BulkPassJob.refused + refused,
            updated_at=now,
        )
    )


def set_state(
    tx: Tx,
    job_id: str,
    state: str,
    *,
    now: datetime,
    message: str | None = None,
    finished: bool = False,
    only_from: Sequence[str] = (),
) -> bool:
    """Move the job to `state` (only from one of `only_from` when given); whether it moved."""
    query = update(BulkPassJob).where(BulkPassJob.id == job_id)
    if only_from:
        query = query.where(BulkPassJob.state.in_(only_from))
    values: dict[str, Any] = {"state": state, "updated_at": now, "message": message}
    if finished:
        values["finished_at"] = now
    return bool(tx.execute(query.values(**values)).rowcount)


def claim_result(tx: Tx, job_id: str, now: datetime) -> bool:
    """Mark the result taken, if nobody took it yet: the one download (conditional, so two at once cannot
    both have it)."""
    result = tx.execute(
        update(BulkPassJob)
        .where(BulkPassJob.id == job_id, BulkPassJob.result_taken_at.is_(None))
        .values(result_taken_at=now)
    )
    return bool(result.rowcount)


def forget_passes(tx: Tx, job_id: str) -> None:
    tx.execute(update(BulkPassItem).where(BulkPassItem.job_id == job_id).values(sealed_pass=None))


def users_by_id(tx: Tx, refs: Sequence[str]) -> list[User]:
    """The users these refs name by object id (sign-in names are looked up one by one), loaded into the
    transaction's session in one select. Its identity map holds them weakly: keep the list meanwhile."""
    ids = [r.strip().lower() for r in refs if is_guid(r.strip())]
    return list(tx.session.scalars(select(User).where(User.id.in_(ids)))) if ids else []


def member_ids(tx: Tx, group_id: str) -> list[str]:
    """The group's direct members, by sign-in name."""
    query = (
        select(User.id)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id)
        .order_by(User.upn_key)
    )
    return [str(i) for i in tx.execute(query).scalars()]


@dataclass(frozen=True)
class ReportRow:
    """An issued item and, if its pass still exists (not replaced or revoked since), the pass's use."""

    upn: str
    pass_id: str
    start_at: datetime
    expires_at: datetime
    still_there: bool
    used_at: datetime | None
    last_used_at: datetime | None


def report_rows(tx: Tx, job_id: str) -> list[ReportRow]:
    query = (
        select(
            BulkPassItem.upn,
            BulkPassItem.pass_id,
            BulkPassItem.start_at,
            BulkPassItem.expires_at,
            TemporaryAccessPass.id,
            TemporaryAccessPass.used_at,
            TemporaryAccessPass.last_used_at,
        )
        .outerjoin(TemporaryAccessPass, TemporaryAccessPass.id == BulkPassItem.pass_id)
        .where(BulkPassItem.job_id == job_id, BulkPassItem.status == ISSUED)
        .order_by(BulkPassItem.position)
    )
    return [
        # An issued item always has its times (they are written with its status).
        ReportRow(
            str(upn), str(pid), cast(datetime, start), cast(datetime, end), found is not None, used, last
        )
        for upn, pid, start, end, found, used, last in tx.connection().execute(query)
    ]
