"""Directory queries: tenant, users, groups, roles, applications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    delete,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute

from passbridge.directory.rules import upn_key
from passbridge.store.models import (
    DESCRIPTION_HEAD,
    Application,
    Group,
    GroupMember,
    RoleAssignment,
    Tenant,
    User,
)
from passbridge.store.tx import Tx


def tenant(tx: Tx) -> Tenant | None:
    return tx.session.scalars(select(Tenant).limit(1)).first()


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def user_by_id(tx: Tx, user_id: str) -> User | None:
    return tx.session.get(User, user_id.lower()) if is_guid(user_id) else None


def user_by_upn(tx: Tx, upn: str) -> User | None:
    return tx.session.scalars(select(User).where(User.upn_key == upn_key(upn))).first()


def user_by_id_or_upn(tx: Tx, ref: str) -> User | None:
    """Graph accepts either the object id or the userPrincipalName in a user path."""
    return user_by_id(tx, ref) if is_guid(ref) else user_by_upn(tx, ref)


def manager_id_of(tx: Tx, user_id: str) -> str | None:
    return tx.session.scalar(select(User.manager_id).where(User.id == user_id))


def lock_for_manager_change(tx: Tx) -> None:
    """Serialise manager changes on PostgreSQL (the tenant row, until commit); SQLite's writing unit
    already holds the database's write lock."""
    if tx.connection().dialect.name == "postgresql":
        tx.session.execute(select(Tenant.id).with_for_update())


def users(tx: Tx) -> list[User]:
    return list(tx.session.scalars(select(User).order_by(User.upn_key)))


def group_by_id(tx: Tx, group_id: str) -> Group | None:
    return tx.session.get(Group, group_id.lower()) if is_guid(group_id) else None


def groups_named(tx: Tx, name: str) -> list[Group]:
    wanted = name.strip().casefold()
    # displayName is not unique in Graph; compare case-insensitively in Python so both
    # databases agree on Unicode case rules.
    candidates = tx.session.scalars(select(Group).order_by(Group.created_at))
    return [g for g in candidates if g.display_name.casefold() == wanted]


def groups(tx: Tx) -> list[Group]:
    return list(tx.session.scalars(select(Group).order_by(Group.display_name, Group.id)))


def group_ids_of(tx: Tx, user_id: str) -> list[str]:
    return list(tx.session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user_id)))


def is_member(tx: Tx, group_id: str, user_id: str) -> bool:
    return tx.session.get(GroupMember, (group_id, user_id)) is not None


def members(tx: Tx, group_id: str) -> list[User]:
    query = (
        select(User)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id)
        .order_by(User.upn_key)
    )
    return list(tx.session.scalars(query))


def remove_member(tx: Tx, group_id: str, user_id: str) -> int:
    result = tx.execute(
        delete(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id == user_id)
    )
    return int(result.rowcount)


def role_ids_of(tx: Tx, user_id: str) -> list[str]:
    query = select(RoleAssignment.role_template_id).where(RoleAssignment.user_id == user_id)
    return list(tx.session.scalars(query))


def role_assignment(tx: Tx, role_id: str, user_id: str) -> RoleAssignment | None:
    query = select(RoleAssignment).where(
        RoleAssignment.role_template_id == role_id, RoleAssignment.user_id == user_id
    )
    return tx.session.scalars(query).first()


def application_by_app_id(tx: Tx, app_id: str) -> Application | None:
    if not is_guid(app_id):
        return None
    return tx.session.scalars(select(Application).where(Application.app_id == app_id.lower())).first()


def applications(tx: Tx) -> list[Application]:
    return list(tx.session.scalars(select(Application).order_by(Application.display_name)))


# --- filtered, paged queries ($filter, $top, $count) ------------------------------------------

FilterOp = Literal["eq", "startswith", "ge", "le"]


@dataclass(frozen=True)
class Condition:
    """One `$filter` clause, named by the Graph property it tests. Clauses are ANDed."""

    field: str
    op: FilterOp
    value: str | bool | datetime | None


# The position after which a page starts: the previous page's last row's sort key.
UserKey = tuple[str, str]  # (upn_key, id)
GroupKey = tuple[str, str]  # (display_name, id)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# The orders users page in ($orderby): by UPN (the default) or by display name, either way, ties by id.
UserOrder = Literal["userPrincipalName", "displayName"]


def user_key(user: User, order: UserOrder = "userPrincipalName") -> UserKey:
    return (user.display_name, user.id) if order == "displayName" else (user.upn_key, user.id)


def _user_sort(order: UserOrder) -> ColumnElement[str] | InstrumentedAttribute[str]:
    # Display names sort in any case, along the index on (lower(display_name), id).
    return func.lower(User.display_name) if order == "displayName" else User.upn_key


def _user_past(order: UserOrder, descending: bool, key: UserKey) -> ColumnElement[bool]:
    """Rows past `key` in the order asked for, as a range of that order's index (keyset paging)."""
    first = _user_sort(order)
    value = func.lower(literal(key[0], String)) if order == "displayName" else literal(key[0], String)
    if descending:
        return and_(first <= value, or_(first < value, User.id < key[1]))
    return and_(first >= value, or_(first > value, User.id > key[1]))


def group_key(group: Group) -> GroupKey:
    return (group.display_name, group.id)


def _after(
    first: InstrumentedAttribute[str], second: InstrumentedAttribute[str], key: tuple[str, str]
) -> ColumnElement[bool]:
    """Rows past `key` in (first, second) order, as a range of the index on `first` (keyset paging: the
    next page costs the same wherever it starts, where an OFFSET walked every row before it)."""
    return and_(first >= key[0], or_(first > key[0], second > key[1]))


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _past_prefix(prefix: str) -> str | None:
    """The least string above every string starting with `prefix` in code point order (SQLite's BINARY
    collation of UTF-8), or None when no string is: the exclusive end of a prefix's index range."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            following = 0xE000 if last + 1 == 0xD800 else last + 1  # surrogates are not text
            return "".join(chars) + chr(following)
    return None


def _starts_with(
    tx: Tx, key: ColumnElement[str] | InstrumentedAttribute[str], prefix: str
) -> ColumnElement[bool]:
    """`key` starts with `prefix`, in a form the database's index on `key` serves. SQLite takes it as a
    range: its LIKE is ASCII case-insensitive, so it never uses a BINARY index. PostgreSQL keeps LIKE,
    which it turns into a range of the pattern-opclass index itself."""
    if tx.connection().dialect.name == "sqlite":
        end = _past_prefix(prefix)
        return key >= prefix if end is None else and_(key >= prefix, key < end)
    return key.like(_like_prefix(prefix), escape="\\")


def _text_clause(tx: Tx, column: InstrumentedAttribute[Any], op: FilterOp, value: str) -> ColumnElement[bool]:
    # Graph compares directory strings case-insensitively; lowering both sides in SQL keeps the
    # comparison inside one database's case rules (SQLite lowers ASCII only, PostgreSQL by its ctype),
    # and matches the expression indexes on lower(column).
    folded = func.lower(column)
    if op == "eq":
        return folded == func.lower(literal(value, String))
    if tx.connection().dialect.name == "sqlite":
        # SQLite's lower() of the prefix, worked out here so that the range's bounds are parameters.
        return _starts_with(tx, folded, value.translate(_ASCII_LOWER))
    return folded.like(func.lower(literal(_like_prefix(value), String)), escape="\\")


def _description_head(column: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[str]:
    """What the index on a group's description holds: the first DESCRIPTION_HEAD characters of
    lower(description). Literal numbers, so that the expression is the index's, character for character."""
    return func.substr(func.lower(column), literal_column("1"), literal_column(str(DESCRIPTION_HEAD)))


def _description_clause(tx: Tx, op: FilterOp, value: str) -> ColumnElement[bool]:
    # The index narrows and the comparison of the whole value decides.
    head = _description_head(Group.description)
    if op == "eq":
        narrowed = head == _description_head(literal(value, String))  # implied by the whole: always exact
    else:
        # Cut before lowering, so the bound stays a parameter: exact where lower() maps one character to
        # one (SQLite; PostgreSQL's libc collations), as a prefix of the lowered value is the lowered prefix.
        cut = value[:DESCRIPTION_HEAD]
        if tx.connection().dialect.name == "sqlite":
            narrowed = _starts_with(tx, head, cut.translate(_ASCII_LOWER))
        else:
            narrowed = head.like(func.lower(literal(_like_prefix(cut), String)), escape="\\")
    return and_(narrowed, _text_clause(tx, Group.description, op, value))


def _user_clause(tx: Tx, condition: Condition) -> ColumnElement[bool]:
    field, op, value = condition.field, condition.op, condition.value
    if field == "accountEnabled" and isinstance(value, bool):
        return User.account_enabled.is_(value)
    if field == "employeeHireDate":
        return _hire_date_clause(op, value)
    if value is None:
        column = _NULLABLE_TEXT.get(field)
        return false() if column is None else column.is_(None)
    if not isinstance(value, str):
        raise ValueError(f"{field} compares with text")
    if field == "id":
        return User.id == value.strip().lower()
    if field == "userPrincipalName":
        # upn_key holds the casefolded name, so this comparison can use its unique index.
        key = upn_key(value)
        return User.upn_key == key if op == "eq" else _starts_with(tx, User.upn_key, key)
    if field not in _NULLABLE_TEXT or op not in ("eq", "startswith"):
        raise ValueError(f"users cannot be filtered on {field} with {op}")
    return _text_clause(tx, _NULLABLE_TEXT[field], op, value)


# Text properties compared on lower(column), each with its expression index (models.User).
_NULLABLE_TEXT: dict[str, InstrumentedAttribute[Any]] = {
    "displayName": User.display_name,
    "mail": User.mail,
    "employeeId": User.employee_id,
    "employeeType": User.employee_type,
    "department": User.department,
    "jobTitle": User.job_title,
    "companyName": User.company_name,
    "officeLocation": User.office_location,
    "usageLocation": User.usage_location,
    "mobilePhone": User.mobile_phone,
}


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _hire_date_clause(op: FilterOp, value: str | bool | datetime | None) -> ColumnElement[bool]:
    # A range of the index on employee_hire_date; null never compares (as Graph: eq null only).
    if value is None:
        return User.employee_hire_date.is_(None) if op == "eq" else false()
    if not isinstance(value, datetime):
        raise ValueError("employeeHireDate compares with a date and time")
    if op == "eq":
        return User.employee_hire_date == value
    # Bounded on both sides: SQLite's planner takes a one-sided range for a quarter of the table and
    # would rather walk the UPN index in page order; a closed range it reads from the hire date index.
    if op == "ge":
        return User.employee_hire_date.between(value, _LATEST)
    if op == "le":
        return User.employee_hire_date.between(_EARLIEST, value)
    raise ValueError(f"employeeHireDate cannot be compared with {op}")


def _group_clause(tx: Tx, condition: Condition) -> ColumnElement[bool]:
    field, op, value = condition.field, condition.op, condition.value
    if value is None:
        return Group.description.is_(None) if field == "description" else false()
    if not isinstance(value, str):
        raise ValueError(f"{field} compares with text")
    if field == "id":
        return Group.id == value.strip().lower()
    if field == "description":
        return _description_clause(tx, op, value)
    if field != "displayName":
        raise ValueError(f"groups cannot be filtered on {field}")
    return _text_clause(tx, Group.display_name, op, value)


def _users_where(
    tx: Tx,
    query: Select[Any],
    conditions: Sequence[Condition],
    group_id: str | None,
    manager_id: str | None = None,
) -> Select[Any]:
    if group_id is not None:
        query = query.join(GroupMember, GroupMember.user_id == User.id).where(
            GroupMember.group_id == group_id
        )
    if manager_id is not None:
        query = query.where(User.manager_id == manager_id)
    return query.where(*(_user_clause(tx, c) for c in conditions))


def find_users(
    tx: Tx,
    conditions: Sequence[Condition] = (),
    *,
    after: UserKey | None = None,
    limit: int | None = None,
    group_id: str | None = None,
    manager_id: str | None = None,
    order: UserOrder = "userPrincipalName",
    descending: bool = False,
) -> list[User]:
    """Users matching every condition (members of `group_id`, reports of `manager_id` when given), in
    `order` (then id), from the one after `after` (`user_key` of the previous page's last, same order)."""
    query = _users_where(tx, select(User), conditions, group_id, manager_id)
    if after is not None:
        query = query.where(_user_past(order, descending, after))
    first = _user_sort(order)
    by = (first.desc(), User.id.desc()) if descending else (first, User.id)
    return list(tx.session.scalars(query.order_by(*by).limit(limit)))


def count_users(tx: Tx, conditions: Sequence[Condition] = (), *, group_id: str | None = None) -> int:
    query = _users_where(tx, select(func.count()).select_from(User), conditions, group_id)
    return int(tx.session.scalar(query) or 0)


def find_groups(
    tx: Tx, conditions: Sequence[Condition] = (), *, after: GroupKey | None = None, limit: int | None = None
) -> list[Group]:
    """Groups matching every condition, by display name then id, from the one after `after`."""
    query = select(Group).where(*(_group_clause(tx, c) for c in conditions))
    if after is not None:
        query = query.where(_after(Group.display_name, Group.id, after))
    return list(tx.session.scalars(query.order_by(Group.display_name, Group.id).limit(limit)))


def count_groups(tx: Tx, conditions: Sequence[Condition] = ()) -> int:
    query = select(func.count()).select_from(Group).where(*(_group_clause(tx, c) for c in conditions))
    return int(tx.session.scalar(query) or 0)


def lock_user(tx: Tx, user_id: str) -> None:
    """Hold a user's row until commit (PostgreSQL), so a change checked against what was read (SCIM's
    If-Match) cannot interleave with another; SQLite's write transaction already holds the database."""
    tx.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def lock_group(tx: Tx, group_id: str) -> None:
    tx.session.execute(select(Group.id).where(Group.id == group_id).with_for_update())
