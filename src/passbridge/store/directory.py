"""Directory queries: tenant, users, groups, roles, applications."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from passbridge.domain.directory import upn_key
from passbridge.store.models import Application, Group, GroupMember, RoleAssignment, Tenant, User


def tenant(session: Session) -> Tenant | None:
    return session.scalars(select(Tenant).limit(1)).first()


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def user_by_id(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id.lower()) if _is_guid(user_id) else None


def user_by_upn(session: Session, upn: str) -> User | None:
    return session.scalars(select(User).where(User.upn_key == upn_key(upn))).first()


def user_by_id_or_upn(session: Session, ref: str) -> User | None:
    """Graph accepts either the object id or the userPrincipalName in a user path."""
    return user_by_id(session, ref) if _is_guid(ref) else user_by_upn(session, ref)


def users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.upn_key)))


def group_by_id(session: Session, group_id: str) -> Group | None:
    return session.get(Group, group_id.lower()) if _is_guid(group_id) else None


def groups_named(session: Session, name: str) -> list[Group]:
    wanted = name.strip().casefold()
    # displayName is not unique in Graph; compare case-insensitively in Python so both
    # databases agree on Unicode case rules.
    candidates = session.scalars(select(Group).order_by(Group.created_at))
    return [g for g in candidates if g.display_name.casefold() == wanted]


def groups(session: Session) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.display_name, Group.id)))


def group_ids_of(session: Session, user_id: str) -> list[str]:
    return list(session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user_id)))


def is_member(session: Session, group_id: str, user_id: str) -> bool:
    return session.get(GroupMember, (group_id, user_id)) is not None


def members(session: Session, group_id: str) -> list[User]:
    query = (
        select(User)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id)
        .order_by(User.upn_key)
    )
    return list(session.scalars(query))


def remove_member(session: Session, group_id: str, user_id: str) -> int:
    result = session.execute(
        delete(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id == user_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def role_ids_of(session: Session, user_id: str) -> list[str]:
    query = select(RoleAssignment.role_template_id).where(RoleAssignment.user_id == user_id)
    return list(session.scalars(query))


def role_assignment(session: Session, role_id: str, user_id: str) -> RoleAssignment | None:
    query = select(RoleAssignment).where(
        RoleAssignment.role_template_id == role_id, RoleAssignment.user_id == user_id
    )
    return session.scalars(query).first()


def application_by_app_id(session: Session, app_id: str) -> Application | None:
    if not _is_guid(app_id):
        return None
    return session.scalars(select(Application).where(Application.app_id == app_id.lower())).first()


def applications(session: Session) -> list[Application]:
    return list(session.scalars(select(Application).order_by(Application.display_name)))
