"""SCIM's SQL: paged, sorted lists of users and groups filtered by scim/filters.py, and the rows a
resource's document needs (its groups, its members)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from passbridge.scim.errors import ScimError
from passbridge.scim.filters import Clause, group_clause, user_clause
from passbridge.scim.schemas import GROUP_SCHEMA, USER_SCHEMA
from passbridge.store.models import Group, GroupMember, User
from passbridge.store.tx import Tx

_USER_SORT: dict[str, Any] = {
    "username": User.upn_key,
    "displayname": func.lower(User.display_name),
    "externalid": User.external_id,
    "meta.created": User.created_at,
    "id": User.id,
    "title": func.lower(User.job_title),
}
_GROUP_SORT: dict[str, Any] = {
    "displayname": func.lower(Group.display_name),
    "externalid": Group.external_id,
    "meta.created": Group.created_at,
    "id": Group.id,
}


@dataclass(frozen=True)
class Page:
    total: int
    rows: list[Any]


def _sort_key(table: dict[str, Any], sort_by: str | None, resource: str) -> Any:
    if sort_by is None:
        return None
    key = sort_by.strip().lower()
    for prefix in (USER_SCHEMA.lower() + ":", GROUP_SCHEMA.lower() + ":"):
        key = key.removeprefix(prefix)
    if key not in table:
        raise ScimError(400, f"{resource} cannot be sorted by '{sort_by}'.", "invalidValue")
    return table[key]


def _page(
    tx: Tx,
    model: type[User] | type[Group],
    where: Clause,
    default_order: tuple[Any, ...],
    sort: Any,
    descending: bool,
    start: int,
    count: int,
) -> Page:
    total = int(tx.session.scalar(select(func.count()).select_from(model).where(where)) or 0)
    if count == 0 or start > total:
        return Page(total, [])
    if sort is None:
        order: tuple[Any, ...] = default_order
    else:
        order = (sort.desc().nulls_last() if descending else sort.asc().nulls_last(), model.id)
    query = select(model).where(where).order_by(*order).offset(start - 1).limit(count)
    return Page(total, list(tx.session.scalars(query)))


def list_users(
    tx: Tx, text: str | None, *, sort_by: str | None, descending: bool, start: int, count: int
) -> Page:
    sort = _sort_key(_USER_SORT, sort_by, "Users")
    return _page(tx, User, user_clause(text), (User.upn_key, User.id), sort, descending, start, count)


def list_groups(
    tx: Tx, text: str | None, *, sort_by: str | None, descending: bool, start: int, count: int
) -> Page:
    sort = _sort_key(_GROUP_SORT, sort_by, "Groups")
    order = (Group.display_name, Group.id)
    return _page(tx, Group, group_clause(text), order, sort, descending, start, count)


def member_rows(tx: Tx, group_id: str) -> list[tuple[str, str, str]]:
    """(id, displayName, userPrincipalName) of a group's members, by UPN."""
    query = (
        select(User.id, User.display_name, User.user_principal_name)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id)
        .order_by(User.upn_key)
    )
    return [(uid, name, upn) for uid, name, upn in tx.session.execute(query).all()]


def group_rows_of(tx: Tx, user_id: str) -> list[tuple[str, str]]:
    """(id, displayName) of the groups a user belongs to."""
    query = (
        select(Group.id, Group.display_name)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id)
        .order_by(Group.display_name, Group.id)
    )
    return [(gid, name) for gid, name in tx.session.execute(query).all()]
