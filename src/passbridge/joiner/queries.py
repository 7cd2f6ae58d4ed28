"""The joiner workflow's SQL: its settings row, its runs, and the candidates (by the hire-date index, and by
the creation-time index for users added since it was switched on)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, select

from passbridge.joiner.rules import JoinerSettings
from passbridge.store.models import (
    Fido2Credential,
    JoinerRun,
    JoinerSettingsRow,
    SoftwareOathMethod,
    TemporaryAccessPass,
    User,
)
from passbridge.store.tx import Tx

SETTINGS_ID = "joiner"


def settings(tx: Tx, *, for_update: bool = False) -> tuple[JoinerSettings, datetime | None]:
    row = tx.session.get(JoinerSettingsRow, SETTINGS_ID, with_for_update=for_update or None)
    if row is None:
        return JoinerSettings(), None
    found = JoinerSettings(
        enabled=row.enabled,
        days_before=row.days_before,
        lifetime_minutes=row.lifetime_minutes,
        is_usable_once=row.is_usable_once,
        mail_private=row.mail_private,
        enabled_at=row.enabled_at,
    )
    return found, row.last_modified


def save_settings(tx: Tx, value: JoinerSettings, now: datetime) -> None:
    row = tx.session.get(JoinerSettingsRow, SETTINGS_ID)
    if row is None:
        row = JoinerSettingsRow(id=SETTINGS_ID)
        tx.session.add(row)
    row.enabled = value.enabled
    row.days_before = value.days_before
    row.lifetime_minutes = value.lifetime_minutes
    row.is_usable_once = value.is_usable_once
    row.mail_private = value.mail_private
    row.enabled_at = value.enabled_at
    row.last_modified = now
    tx.session.flush()


def _not_run() -> ColumnElement[bool]:
    return ~exists().where(JoinerRun.user_id == User.id)


def candidates(
    tx: Tx, *, oldest: datetime, latest: datetime, added_since: datetime | None, limit: int
) -> list[str]:
    """Ids of users without a run whose hire date is in [oldest, latest], or (added since the workflow
    was switched on) any hire date up to `latest`; earliest hire date first."""
    recent = (
        select(User.id, User.employee_hire_date)
        .where(User.employee_hire_date >= oldest, User.employee_hire_date <= latest, _not_run())
        .order_by(User.employee_hire_date)
        .limit(limit)
    )
    found: dict[str, datetime] = {row[0]: row[1] for row in tx.session.execute(recent).all() if row[1]}
    if added_since is not None:
        added = (
            select(User.id, User.employee_hire_date)
            .where(User.created_at >= added_since, User.employee_hire_date <= latest, _not_run())
            .order_by(User.created_at)
            .limit(limit)
        )
        found.update({row[0]: row[1] for row in tx.session.execute(added).all() if row[1]})
    return sorted(found, key=lambda user_id: found[user_id])[:limit]


def has_methods(tx: Tx, user_id: str) -> str | None:
    """What the user already has, if anything: the workflow only gives a first credential."""
    checks = (
        (Fido2Credential, "a passkey"),
        (SoftwareOathMethod, "an authenticator app"),
        (TemporaryAccessPass, "a Temporary Access Pass"),
    )
    for model, name in checks:
        if tx.session.scalar(select(exists().where(model.user_id == user_id))):
            return name
    return None


def claim(tx: Tx, user_id: str, now: datetime) -> bool:
    """Take the user's one run, as an empty row whose outcome the caller fills in before its commit.
    False when another process already took it: the primary key allows one (PostgreSQL makes the second
    insert wait for the first's commit, then refuses it; SQLite's write lock serialises them)."""
    if tx.session.get(JoinerRun, user_id) is not None:
        return False
    run = JoinerRun(
        user_id=user_id, state="skipped", reason=None, pass_id=None, recipients=[], processed_at=now
    )
    tx.session.add(run)
    tx.session.flush()
    return True


def run_of(tx: Tx, user_id: str) -> JoinerRun | None:
    return tx.session.get(JoinerRun, user_id)


def recent_runs(tx: Tx, limit: int = 50) -> list[tuple[JoinerRun, User]]:
    query = (
        select(JoinerRun, User)
        .join(User, User.id == JoinerRun.user_id)
        .order_by(JoinerRun.processed_at.desc(), JoinerRun.user_id)
        .limit(limit)
    )
    return [(run, user) for run, user in tx.session.execute(query).all()]


def upcoming(tx: Tx, *, after: datetime, limit: int = 50) -> list[User]:
    """New hires whose pass is not due yet, soonest first (for the portal)."""
    query = (
        select(User)
        .where(User.employee_hire_date > after, _not_run())
        .order_by(User.employee_hire_date, User.id)
        .limit(limit)
    )
    return list(tx.session.scalars(query))
