"""The SQL of pass notices' "This wasn't me" links (notices.py), and nothing else's."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update

from passbridge.store.models import PassNoticeLink, TemporaryAccessPass, User
from passbridge.store.tx import Tx


@dataclass(frozen=True)
class NoticeFacts:
    """What a notice says: the holder, and the pass as it was issued (None once it is gone)."""

    user_id: str
    display_name: str
    user_principal_name: str
    mail: str | None
    pass_id: str | None
    issued_by: str | None
    issued_at: datetime | None
    reason: str | None
    start_at: datetime | None
    expires_at: datetime | None
    is_usable_once: bool | None


@dataclass(frozen=True)
class LinkRow:
    pass_id: str
    expires_at: datetime
    used_at: datetime | None
    facts: NoticeFacts


def add_link(tx: Tx, row: PassNoticeLink) -> None:
    tx.insert(row)


def facts(tx: Tx, user_id: str, pass_id: str) -> NoticeFacts | None:
    row = tx.execute(
        select(
            User.id.label("user_id"),
            User.display_name,
            User.user_principal_name,
            User.mail,
            TemporaryAccessPass.id.label("pass_id"),
            TemporaryAccessPass.created_by_name.label("issued_by"),
            TemporaryAccessPass.created_at.label("issued_at"),
            TemporaryAccessPass.reason,
            TemporaryAccessPass.start_at,
            TemporaryAccessPass.expires_at,
            TemporaryAccessPass.is_usable_once,
        )
        .select_from(User)
        .outerjoin(
            TemporaryAccessPass,
            (TemporaryAccessPass.user_id == User.id) & (TemporaryAccessPass.id == pass_id),
        )
        .where(User.id == user_id)
    ).first()
    return None if row is None else NoticeFacts(**row._mapping)


def link(tx: Tx, token_hash: str) -> LinkRow | None:
    found = tx.execute(
        select(
            PassNoticeLink.user_id,
            PassNoticeLink.pass_id,
            PassNoticeLink.expires_at,
            PassNoticeLink.used_at,
            PassNoticeLink.issued_by,
            PassNoticeLink.issued_at,
            PassNoticeLink.reason,
        ).where(PassNoticeLink.token_hash == token_hash)
    ).first()
    if found is None:
        return None
    about = facts(tx, found.user_id, found.pass_id)
    if about is None:  # the user is gone: their links went with them (ON DELETE CASCADE)
        return None
    # The pass as the notice described it, even once it is gone.
    said = replace(about, issued_by=found.issued_by, issued_at=found.issued_at, reason=found.reason)
    return LinkRow(found.pass_id, found.expires_at, found.used_at, said)


def claim(tx: Tx, token_hash: str, now: datetime) -> bool:
    """Use the link once: of any number of clicks at once, one sees True."""
    done = tx.execute(
        update(PassNoticeLink)
        .where(
            PassNoticeLink.token_hash == token_hash,
            PassNoticeLink.used_at.is_(None),
            PassNoticeLink.expires_at > now,
        )
        .values(used_at=now)
    )
    return done.rowcount == 1


def close_links_of(tx: Tx, user_id: str, pass_id: str, now: datetime) -> None:
    """The pass's other links (its other notice) are done too: the pass is reported once."""
    tx.execute(
        update(PassNoticeLink)
        .where(
            PassNoticeLink.user_id == user_id,
            PassNoticeLink.pass_id == pass_id,
            PassNoticeLink.used_at.is_(None),
        )
        .values(used_at=now)
    )
