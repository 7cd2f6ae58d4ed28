"""The directory's searches and the logs' filters at scale: each is served by an index (its query plan
says so, on both databases: plans, not timings, so nothing here is flaky), and finding by index kept the
results exactly what they were: case folded as the database's lower() folds it, prefixes exact at the
edges of Unicode, pages starting right after the previous page's last item."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from passbridge.directory import queries as directory
from passbridge.directory.queries import Condition
from passbridge.directory.service import DirectoryService
from passbridge.logs import audit_queries, signin_log_queries
from passbridge.logs.rules import AuditFilter, SignInFilter
from passbridge.services.context import Env, operator
from passbridge.store.tx import Tx
from tests.factories import make_group, make_user

Query = Callable[[Tx], Any]
WHEN = datetime(2026, 12, 1, tzinfo=UTC)
SOMEONE = "6b1f3c2e-0000-4000-8000-000000000001"


def _users(*conditions: Condition, **kw: Any) -> Query:
    return lambda tx: directory.find_users(tx, conditions, limit=101, **kw)


def _groups(*conditions: Condition, **kw: Any) -> Query:
    return lambda tx: directory.find_groups(tx, conditions, limit=101, **kw)


HR_TEXT_FIELDS = {
    "employeeId": "employee_id",
    "employeeType": "employee_type",
    "department": "department",
    "jobTitle": "job_title",
    "companyName": "company_name",
    "officeLocation": "office_location",
    "usageLocation": "usage_location",
    "mobilePhone": "mobile_phone",
}


# Each query, and the table it must reach through an index range rather than a walk of every row.
INDEXED: dict[str, tuple[str, Query]] = {
    "users displayName eq": ("app_user", _users(Condition("displayName", "eq", "Ada Lovelace"))),
    "users startswith(displayName)": ("app_user", _users(Condition("displayName", "startswith", "Ada"))),
    "users mail eq": ("app_user", _users(Condition("mail", "eq", "ada@contoso.example"))),
    "users startswith(mail)": ("app_user", _users(Condition("mail", "startswith", "ada@"))),
    "users startswith(userPrincipalName)": (
        "app_user",
        _users(Condition("userPrincipalName", "startswith", "ADA")),
    ),
    "users accountEnabled eq false": ("app_user", _users(Condition("accountEnabled", "eq", False))),
    "users page after a key": ("app_user", _users(after=("m@contoso.example", SOMEONE))),
    # HR's properties (issue 14): each has its own index on lower(column); the hire date a plain one.
    **{
        f"users {field} {op}": ("app_user", _users(Condition(field, op, "Ab")))  # type: ignore[arg-type]
        for field in HR_TEXT_FIELDS
        for op in ("eq", "startswith")
    },
    **{
        f"users employeeHireDate {op}": ("app_user", _users(Condition("employeeHireDate", op, WHEN)))  # type: ignore[arg-type]
        for op in ("eq", "ge", "le")
    },
    "users reporting to a manager": ("app_user", _users(manager_id=SOMEONE)),
    "users by displayName after a key": ("app_user", _users(order="displayName", after=("Ada", SOMEONE))),
    "users by displayName desc after a key": (
        "app_user",
        _users(order="displayName", descending=True, after=("Ada", SOMEONE)),
    ),
    "users by userPrincipalName desc after a key": (
        "app_user",
        _users(descending=True, after=("m@contoso.example", SOMEONE)),
    ),
    "groups displayName eq": ("app_group", _groups(Condition("displayName", "eq", "Team"))),
    "groups startswith(displayName)": ("app_group", _groups(Condition("displayName", "startswith", "Te"))),
    "groups page after a key": ("app_group", _groups(after=("Team", SOMEONE))),
    "groups description eq": ("app_group", _groups(Condition("description", "eq", "The team"))),
    "groups startswith(description)": ("app_group", _groups(Condition("description", "startswith", "The"))),
    "audit by target": (
        "audit_entry",
        lambda tx: audit_queries.search(tx, AuditFilter(target_ids=(SOMEONE,)), limit=101),
    ),
    "audit page after a key": (
        "audit_entry",
        lambda tx: audit_queries.search(tx, AuditFilter(), after=(WHEN, SOMEONE), limit=101),
    ),
    "audit page after a key, oldest first": (
        "audit_entry",
        lambda tx: audit_queries.search(
            tx, AuditFilter(), after=(WHEN, SOMEONE), limit=101, oldest_first=True
        ),
    ),
    "sign-ins by userPrincipalName": (
        "sign_in_log",
        lambda tx: signin_log_queries.search(
            tx, SignInFilter(user_principal_names=("Ada@Contoso.example",)), limit=101
        ),
    ),
    "sign-ins page after a key": (
        "sign_in_log",
        lambda tx: signin_log_queries.search(tx, SignInFilter(), after=(WHEN, SOMEONE), limit=101),
    ),
}


@contextmanager
def _statements(env: Env) -> Iterator[list[tuple[str, Any]]]:
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(env.db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(env.db.engine, "before_cursor_execute", record)


def _plan(env: Env, query: Query) -> str:
    with _statements(env) as sent, env.db.transaction("read") as tx:
        query(tx)
    (statement, parameters) = sent[-1]
    with env.db.engine.connect() as connection:
        if env.db.dialect == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            return "\n".join(str(row[-1]) for row in rows)
        # Tables this small are cheaper to read whole, so PostgreSQL would rightly scan them: with
        # sequential scans priced out, a plan still shows one only when no index can serve the query.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
        return "\n".join(str(row[0]) for row in rows)


@pytest.mark.parametrize("name", list(INDEXED))
def test_searches_and_log_pages_reach_their_table_through_an_index_range(env: Env, name: str) -> None:
    table, query = INDEXED[name]
    plan = _plan(env, query)
    if env.db.dialect == "sqlite":
        # SEARCH is a range of an index; SCAN, even "USING INDEX", visits every row.
        assert f"SEARCH {table} " in plan and f"SCAN {table}" not in plan, plan
    else:
        reached = [line for line in plan.splitlines() if f" on {table}" in line]
        assert reached and not any("Seq Scan" in line for line in reached), plan
        assert "Index Cond" in plan, plan


def test_startswith_display_name_uses_the_lowered_display_name_index(env: Env) -> None:
    plan = _plan(env, INDEXED["users startswith(displayName)"][1])
    assert "ix_app_user_display_name_lower" in plan, plan


@pytest.mark.parametrize("field", list(HR_TEXT_FIELDS))
def test_each_hr_property_filter_uses_its_own_lowered_index(env: Env, field: str) -> None:
    for op in ("eq", "startswith"):
        plan = _plan(env, INDEXED[f"users {field} {op}"][1])
        assert f"ix_app_user_{HR_TEXT_FIELDS[field]}_lower" in plan, plan


# --- the same results as before: case rules, prefixes, ties ------------------------------------


def _database_lower(env: Env, value: str) -> str:
    with env.db.engine.connect() as connection:
        return str(connection.execute(text("SELECT lower(:v)"), {"v": value}).scalar_one())


def _found(env: Env, *conditions: Condition) -> list[str]:
    with env.db.transaction("read") as tx:
        return [u.display_name for u in directory.find_users(tx, conditions)]


def test_display_name_and_mail_fold_case_as_the_databases_lower_does(env: Env) -> None:
    make_user(env, "emile@contoso.example", display_name="ÉMILE Zola")
    # SQLite's lower() folds ASCII only; PostgreSQL's folds by its ctype (Unicode here). The filters
    # have always used it, and still do: a non-ASCII capital matches its small letter where lower() says so.
    folds = _database_lower(env, "É") == "é"
    assert _found(env, Condition("displayName", "startswith", "émile")) == (["ÉMILE Zola"] if folds else [])
    assert _found(env, Condition("displayName", "eq", "émile zola")) == (["ÉMILE Zola"] if folds else [])
    # Whatever the database, ASCII folds and the exact spelling matches.
    assert _found(env, Condition("displayName", "startswith", "ÉMILE z")) == ["ÉMILE Zola"]
    assert _found(env, Condition("displayName", "eq", "Émile ZOLA")) == ["ÉMILE Zola"]


def test_a_prefix_matches_exactly_at_the_edges_of_unicode(env: Env) -> None:
    names = ["x\ud7ff", "x\ud7ffy", "x\ue000", "x\U0010ffff", "x\U0010ffffz", "y", "x%", "x_", "x\\"]
    for n, name in enumerate(names):
        make_user(env, f"u{n}@contoso.example", display_name=name)
    for prefix in ["x\ud7ff", "x\U0010ffff", "x", "x%", "x_", "x\\", ""]:
        wanted = sorted(name for name in names if name.startswith(prefix))
        assert sorted(_found(env, Condition("displayName", "startswith", prefix))) == wanted, prefix


def test_a_user_principal_name_prefix_is_case_insensitive_and_exact(env: Env) -> None:
    for upn in ["ada@contoso.example", "adam@contoso.example", "ad_b@contoso.example", "ADB@contoso.example"]:
        make_user(env, upn, display_name=upn)
    found = _found(env, Condition("userPrincipalName", "startswith", "AD_"))
    assert found == ["ad_b@contoso.example"]
    assert _found(env, Condition("userPrincipalName", "startswith", "ADA")) == [
        "ada@contoso.example",
        "adam@contoso.example",
    ]


def _groups_described(env: Env, *conditions: Condition) -> list[str]:
    with env.db.transaction("read") as tx:
        return [g.description or "" for g in directory.find_groups(tx, conditions)]


def test_a_long_description_matches_by_all_of_it_not_only_its_indexed_head(env: Env) -> None:
    head = "Ü" * 150 + "x" * 50  # exactly the indexed head, and not all ASCII
    with env.db.transaction() as tx:
        for tail in ["", "A", "B", "AB"]:
            DirectoryService(tx, env, operator()).add_group("Team", description=head + tail)
    assert _groups_described(env, Condition("description", "eq", head + "a")) == [head + "A"]
    assert _groups_described(env, Condition("description", "eq", head)) == [head]
    found = _groups_described(env, Condition("description", "startswith", head + "a"))
    assert sorted(found) == [head + "A", head + "AB"]
    assert len(_groups_described(env, Condition("description", "startswith", head[:10]))) == 4


def test_pages_of_groups_with_one_name_continue_by_id(env: Env) -> None:
    made = sorted(make_group(env, "Same").id for _ in range(5))
    seen: list[str] = []
    after: tuple[str, str] | None = None
    while True:
        with env.db.transaction("read") as tx:
            page = directory.find_groups(tx, [Condition("displayName", "eq", "same")], after=after, limit=2)
        if not page:
            break
        seen += [g.id for g in page]
        after = directory.group_key(page[-1])
    assert seen == made


def test_sign_ins_by_user_principal_name_fold_case_as_before(env: Env) -> None:
    with env.db.transaction() as tx:
        for n, upn in enumerate(["Ada@Contoso.example", "ada@contoso.example", "bob@contoso.example"]):
            signin_log_queries.add(
                tx,
                {"id": str(uuid.UUID(int=n + 1)), "created_at": WHEN, "user_id": None,
                 "user_principal_name": upn, "user_display_name": None, "app_id": None,
                 "app_display_name": "My apps", "ip_address": None,
                 "client_app_used": "Browser", "correlation_id": SOMEONE, "is_interactive": True,
                 "error_code": 0, "failure_reason": None, "authentication_details": [],
                 "authentication_requirement": "singleFactorAuthentication"},
            )  # fmt: skip
    with env.db.transaction("read") as tx:
        found = signin_log_queries.search(
            tx, SignInFilter(user_principal_names=("ADA@contoso.EXAMPLE",)), limit=10
        )
    assert sorted(e.user_principal_name or "" for e in found) == [
        "Ada@Contoso.example",
        "ada@contoso.example",
    ]
