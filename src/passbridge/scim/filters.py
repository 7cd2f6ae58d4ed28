"""SCIM filters (RFC 7644 §3.4.2.2) as SQL over the directory's tables.

A filter is parsed by scim2-models (its RFC 7644 grammar) and translated here, node by node, into one
WHERE clause; nothing is filtered in Python, so `totalResults` and the page come from the database. The
comparisons a provisioning client sends on every sync (`userName eq`, `externalId eq`, `displayName eq`,
`emails.value eq`, prefixes) reach their rows through the same indexes as Graph's `$filter`
(directory/queries.py): the UPN key, lower(displayName), lower(mail), externalId.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path.expressions import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute

from passbridge.directory.rules import upn_key
from passbridge.scim.schemas import ENTERPRISE_SCHEMA, GROUP_SCHEMA, PASSBRIDGE_SCHEMA, USER_SCHEMA
from passbridge.store.models import Group, GroupMember, User

Clause = ColumnElement[bool]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Text:
    """A string attribute: `key` is what comparisons see (lowered unless case-exact), `fold` the same
    mapping applied to a value."""

    key: ColumnElement[Any] | InstrumentedAttribute[Any]
    fold: Callable[[str], str]
    present: Clause

    def compare(self, op: CompareOperator, value: object) -> Clause:
        if not isinstance(value, str):
            raise InvalidFilterException(detail=f"'{op}' on this attribute compares with a string.")
        wanted = self.fold(value)
        key = self.key
        if op == CompareOperator.eq:
            return key == literal(wanted, String)
        if op == CompareOperator.ne:
            return or_(key != literal(wanted, String), key.is_(None))
        if op == CompareOperator.sw:
            return key.like(_escape(wanted) + "%", escape="\\")
        if op == CompareOperator.ew:
            return key.like("%" + _escape(wanted), escape="\\")
        if op == CompareOperator.co:
            return key.like("%" + _escape(wanted) + "%", escape="\\")
        ordering = {
            CompareOperator.gt: key > wanted,
            CompareOperator.ge: key >= wanted,
            CompareOperator.lt: key < wanted,
            CompareOperator.le: key <= wanted,
        }
        return ordering[op]


def _lowered(column: InstrumentedAttribute[Any]) -> Text:
    # lower() in SQL on both sides: the database's own case rules, and the lower() expression indexes.
    return Text(func.lower(column), _sql_lower, column.is_not(None))


def _sql_lower(value: str) -> str:
    # What lower() does to the value, done before it is bound so that LIKE patterns stay parameters.
    # SQLite's lower() folds ASCII only; PostgreSQL folds by its locale, which for the values compared
    # here (names, addresses, ids) agrees with str.lower().
    return value.lower()


def _exact(column: InstrumentedAttribute[Any]) -> Text:
    return Text(column, lambda v: v, column.is_not(None))


@dataclass(frozen=True)
class Flag:
    column: InstrumentedAttribute[bool]

    def compare(self, op: CompareOperator, value: object) -> Clause:
        if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilterException(detail="A boolean attribute takes 'eq' or 'ne' with true or false.")
        return self.column.is_(value) if op == CompareOperator.eq else self.column.is_(not value)


@dataclass(frozen=True)
class Moment:
    column: InstrumentedAttribute[datetime | None] | InstrumentedAttribute[datetime]

    @property
    def present(self) -> Clause:
        return self.column.is_not(None)

    def compare(self, op: CompareOperator, value: object) -> Clause:
        try:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidFilterException(detail=f"'{value}' is not a dateTime.") from None
        if when.tzinfo is None:
            raise InvalidFilterException(detail=f"'{value}' needs a time zone (Z or an offset).")
        column = self.column
        ordering = {
            CompareOperator.eq: column == when,
            CompareOperator.ne: column != when,
            CompareOperator.gt: column > when,
            CompareOperator.ge: column >= when,
            CompareOperator.lt: column < when,
            CompareOperator.le: column <= when,
        }
        if op not in ordering:
            raise InvalidFilterException(detail=f"'{op}' does not apply to a dateTime.")
        return ordering[op]


Attribute = Text | Flag | Moment


def _upn() -> Text:
    return Text(User.upn_key, upn_key, true())


def _json_text(column: InstrumentedAttribute[Any]) -> ColumnElement[str]:
    return func.lower(cast(column, String))


@dataclass(frozen=True)
class OtherMails:
    """emails of type "other": a JSON list, searched as its text (no index: these are rarely searched)."""

    def compare(self, op: CompareOperator, value: object) -> Clause:
        if not isinstance(value, str):
            raise InvalidFilterException(detail="emails compare with a string.")
        quoted = _escape(value.lower().replace("\\", "\\\\").replace('"', '\\"'))
        patterns = {
            CompareOperator.eq: f'%"{quoted}"%',
            CompareOperator.sw: f'%"{quoted}%',
            CompareOperator.ew: f'%{quoted}"%',
            CompareOperator.co: f"%{quoted}%",
        }
        if op not in patterns:
            raise InvalidFilterException(detail=f"'{op}' does not apply to emails.")
        return _json_text(User.other_mails).like(patterns[op], escape="\\")

    @property
    def present(self) -> Clause:
        return _json_text(User.other_mails) != "[]"


def _user_attributes() -> dict[str, Attribute]:
    return {
        "id": _exact(User.id),
        "externalid": _exact(User.external_id),
        "username": _upn(),
        "displayname": _lowered(User.display_name),
        "title": _lowered(User.job_title),
        "usertype": _lowered(User.employee_type),
        "active": Flag(User.account_enabled),
        "meta.created": Moment(User.created_at),
        "phonenumbers.value": _exact(User.mobile_phone),
        "phonenumbers": _exact(User.mobile_phone),
        f"{ENTERPRISE_SCHEMA}:employeenumber".lower(): _lowered(User.employee_id),
        f"{ENTERPRISE_SCHEMA}:department".lower(): _lowered(User.department),
        f"{ENTERPRISE_SCHEMA}:organization".lower(): _lowered(User.company_name),
        f"{ENTERPRISE_SCHEMA}:manager.value".lower(): _exact(User.manager_id),
        f"{ENTERPRISE_SCHEMA}:manager".lower(): _exact(User.manager_id),
        f"{PASSBRIDGE_SCHEMA}:employeehiredate".lower(): Moment(User.employee_hire_date),
    }


def _group_attributes() -> dict[str, Attribute]:
    return {
        "id": _exact(Group.id),
        "externalid": _exact(Group.external_id),
        "displayname": _lowered(Group.display_name),
        "meta.created": Moment(Group.created_at),
    }


def _name(path: AttrPath, core: str) -> str:
    name = path.attr.lower() + (f".{path.sub_attr.lower()}" if path.sub_attr else "")
    if path.uri and path.uri.lower() != core.lower():
        return f"{path.uri.lower()}:{name}"
    return name


class _Translator:
    def __init__(self, attributes: dict[str, Attribute], core: str, resource: str) -> None:
        self.attributes = attributes
        self.core = core
        self.resource = resource

    def clause(self, node: FilterNode) -> Clause:
        if isinstance(node, LogicalExpr):
            parts = [self.clause(term) for term in node.terms]
            return and_(*parts) if node.op == LogicalOperator.and_ else or_(*parts)
        if isinstance(node, Not):
            return not_(self.clause(node.expr))
        if isinstance(node, Present):
            return self.present(_name(node.attr_path, self.core))
        if isinstance(node, Comparison):
            return self.compare(_name(node.attr_path, self.core), node.op, node.value)
        if isinstance(node, ValuePath):
            return self.value_path(node)
        raise InvalidFilterException(detail="This filter expression is not supported.")

    def _attribute(self, name: str) -> Attribute:
        attribute = self.attributes.get(name)
        if attribute is None:
            raise InvalidFilterException(detail=f"{self.resource} cannot be filtered on '{name}'.")
        return attribute

    def present(self, name: str) -> Clause:
        if name in ("emails", "emails.value"):
            return or_(User.mail.is_not(None), OtherMails().present)
        if name in ("members", "members.value"):
            return exists().where(GroupMember.group_id == Group.id)
        if name in ("groups", "groups.value"):
            return exists().where(GroupMember.user_id == User.id)
        attribute = self._attribute(name)
        if isinstance(attribute, Flag):
            return true()
        return attribute.present

    def compare(self, name: str, op: CompareOperator | None, value: object) -> Clause:
        """`op` None: the attribute is present (`pr`)."""
        if op is None:
            return self.present(name)
        if name in ("emails", "emails.value") and self.core == USER_SCHEMA:
            return or_(_lowered(User.mail).compare(op, value), OtherMails().compare(op, value))
        if name in ("members", "members.value") and self.core == GROUP_SCHEMA:
            return self._member(op, value, GroupMember.user_id, GroupMember.group_id == Group.id)
        if name in ("groups", "groups.value") and self.core == USER_SCHEMA:
            return self._member(op, value, GroupMember.group_id, GroupMember.user_id == User.id)
        return self._attribute(name).compare(op, value)

    @staticmethod
    def _member(op: CompareOperator, value: object, column: Any, joined: Clause) -> Clause:
        if op != CompareOperator.eq or not isinstance(value, str):
            raise InvalidFilterException(detail="A membership is filtered with 'eq' and an id.")
        return exists().where(joined, column == value.strip().lower())

    def value_path(self, node: ValuePath) -> Clause:
        """`emails[type eq "work" and value eq "x"]`: each stored slot (the work address, the others)
        is tried as the entry, its type a constant and its value a column."""
        attr = _name(node.attr_path, self.core)
        if attr == "emails":
            slots = [("work", _lowered(User.mail)), ("other", OtherMails())]
        elif attr == "phonenumbers":
            slots = [("mobile", _exact(User.mobile_phone))]
        elif attr in ("members", "groups"):
            inner = _SubTranslator(self, attr, None, None)
            return inner.clause(node.val_filter)
        else:
            raise InvalidFilterException(detail=f"'{attr}' has no entries to select.")
        return or_(
            *(_SubTranslator(self, attr, kind, column).clause(node.val_filter) for kind, column in slots)
        )


class _SubTranslator:
    """The filter inside a value path's brackets, for one stored slot of a multi-valued attribute."""

    def __init__(self, outer: _Translator, attr: str, kind: str | None, column: Any) -> None:
        self.outer = outer
        self.attr = attr
        self.kind = kind
        self.column = column

    def clause(self, node: FilterNode) -> Clause:
        if isinstance(node, LogicalExpr):
            parts = [self.clause(term) for term in node.terms]
            return and_(*parts) if node.op == LogicalOperator.and_ else or_(*parts)
        if isinstance(node, Not):
            return not_(self.clause(node.expr))
        if isinstance(node, Present | Comparison):
            sub = node.attr_path.attr.lower()
            op = None if isinstance(node, Present) else node.op
            value = None if isinstance(node, Present) else node.value
            if sub == "value":
                if self.column is None:
                    return self.outer.compare(f"{self.attr}.value", op, value)
                chosen: Clause = self.column.present if op is None else self.column.compare(op, value)
                return chosen
            if sub == "type" and self.kind is not None:
                present: Clause = self.column.present
                if op is None:
                    return present
                if op == CompareOperator.eq and isinstance(value, str):
                    return present if value.lower() == self.kind else false()
                if op == CompareOperator.ne and isinstance(value, str):
                    return present if value.lower() != self.kind else false()
            raise InvalidFilterException(detail=f"'{self.attr}[{sub} ...]' cannot be filtered on.")
        raise InvalidFilterException(detail="This filter expression is not supported.")


def parse_filter(text: str) -> FilterNode:
    try:
        return ScimFilter(text).ast
    except InvalidFilterException:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidFilterException(detail=f"The filter is not valid: {exc}") from None


def user_clause(text: str | None) -> Clause:
    if not text:
        return true()
    return _Translator(_user_attributes(), USER_SCHEMA, "Users").clause(parse_filter(text))


def group_clause(text: str | None) -> Clause:
    if not text:
        return true()
    return _Translator(_group_attributes(), GROUP_SCHEMA, "Groups").clause(parse_filter(text))
