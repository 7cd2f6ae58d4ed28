"""The directory's queries at 1,000 and at 100,000 users, as ratios (issue 13: each within 2 x).

Seeds one store per size with Core bulk inserts: users (one in seven disabled), groups of ~8 members,
two audit entries and two sign-in log rows per user, all in proportion. Then it times each query shape
the Graph API and the admin portal run (the feature packages' queries in a read transaction, a page of
100 as Graph asks for it, 101 rows) on both stores: this VM's speed drifts by up to 40 % within
minutes, so only the two sizes measured side by side mean something. Each round times a batch of each
query on each size, the sizes taking turns call by call, and keeps each batch's median; the ratio
printed is the median of the per-round ratios. Searches name one seeded person, so they find the same
handful at either size, as a helpdesk search does; listings return full pages at both sizes. SQLite in
a temporary file, as shipped (no ANALYZE); PostgreSQL in a fresh schema of `PASSBRIDGE_TEST_PG_URL`,
ANALYZEd after seeding as autovacuum would. Exit status 3 if a ratio is over 2. Usage:
`bench/run-directory [--rounds 7] [--users 100000] [--sqlite|--pg|--both]` (both when the URL is set).
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import cpu_model
from sqlalchemy import create_engine, insert, text

from passbridge.directory import queries as directory
from passbridge.directory.people import find_people
from passbridge.directory.queries import Condition
from passbridge.logs import audit_queries, signin_log_queries
from passbridge.logs.rules import AuditFilter, SignInFilter
from passbridge.services.context import operator
from passbridge.store.db import Database
from passbridge.store.models import (
    AuditEntry,
    AuditTarget,
    Group,
    GroupMember,
    SignInLogEntry,
    User,
)
from passbridge.store.tx import Tx

TOP = 100
SMALL = 1_000
GOAL = 2.0
FIRST = ("Ada", "Alan", "Amir", "Anna", "Ben", "Carla", "Chen", "Dana", "Eli", "Emma", "Farah", "Gita",
         "Hana", "Ivan", "Jana", "Joao", "Kai", "Lena", "Liam", "Maya", "Mina", "Nils", "Noor", "Olga",
         "Omar", "Pia", "Raj", "Rosa", "Sami", "Sara", "Taro", "Uma", "Vera", "Yara", "Zoe")  # fmt: skip
SYLLABLES = ("ka", "lo", "mi", "ne", "ra", "so", "tu", "vi", "be", "da", "fe", "gu", "ho", "ji", "ku",
             "ma", "no", "pe", "ri", "ta")  # fmt: skip
ACTIVITIES = ("Add user", "Update user", "Add member to group", "Reset password")
BATCH = 15
# Eight members a group: 125 groups at 1,000 users, so that a page of groups is full at both sizes, as
# the disabled users (one in seven) fill a page of `accountEnabled eq false`.
GROUP_SIZE = 8


def last_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() + rng.choice(SYLLABLES)


@dataclass
class Seeded:
    """What the queries look for: one person in the middle of the directory, and keys for last pages."""

    size: int
    display_name: str
    mail: str
    upn: str
    user_id: str
    group_id: str
    group_name: str
    group_description: str
    keys: dict[str, Any]


def seed(db: Database, size: int) -> Seeded:
    rng = random.Random(size)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    users, members, audits, targets, signins = [], [], [], [], []
    groups = [
        {"id": str(uuid.UUID(int=rng.getrandbits(128))), "display_name": f"Team {last_name(rng)} {n}",
         "description": f"People of {last_name(rng)} at site {n}", "created_at": now}
        for n in range(max(1, size // GROUP_SIZE))
    ]  # fmt: skip
    for n in range(size):
        first, last = rng.choice(FIRST), last_name(rng)
        upn = f"{first}.{last}.{n}@contoso.example"
        user_id = str(uuid.UUID(int=rng.getrandbits(128)))
        users.append(
            {"id": user_id, "user_principal_name": upn, "upn_key": upn.casefold(),
             "display_name": f"{first} {last}", "mail": upn if n % 10 else None,
             "account_enabled": n % 7 != 0, "created_at": now, "sessions_valid_from": now}
        )  # fmt: skip
        group = groups[rng.randrange(len(groups))]
        members.append({"group_id": group["id"], "user_id": user_id})
        for k in range(2):
            entry_id = str(uuid.UUID(int=rng.getrandbits(128)))
            at = now - timedelta(seconds=rng.randrange(90 * 86400))
            target = [{"id": user_id, "displayName": f"{first} {last}", "type": "User"}]
            audits.append(
                {"id": entry_id, "activity_date_time": at, "activity_display_name": ACTIVITIES[k + n % 2],
                 "category": "UserManagement", "correlation_id": entry_id,
                 "logged_by_service": "Core Directory", "operation_type": "Add",
                 "result": "success", "result_reason": "",
                 "initiated_by": {"app": {"displayName": "bench"}}, "target_resources": target,
                 "additional_details": []}
            )  # fmt: skip
            targets.append({"audit_id": entry_id, "target_id": user_id})
            signins.append(
                {"id": str(uuid.UUID(int=rng.getrandbits(128))), "created_at": at, "user_id": user_id,
                 "user_principal_name": upn if k else upn.upper(), "user_display_name": f"{first} {last}",
                 "app_id": None, "app_display_name": "My apps", "ip_address": "192.0.2.1",
                 "client_app_used": "Browser", "correlation_id": user_id, "is_interactive": True,
                 "error_code": 0 if k else 50126, "failure_reason": None, "authentication_details": [],
                 "authentication_requirement": "singleFactorAuthentication"}
            )  # fmt: skip
    with db.engine.begin() as connection:
        for table, rows in ((User, users), (Group, groups), (GroupMember, members), (AuditEntry, audits),
                            (AuditTarget, targets), (SignInLogEntry, signins)):  # fmt: skip
            for start in range(0, len(rows), 20_000):
                connection.execute(insert(table), rows[start : start + 20_000])
        if db.dialect == "postgresql":
            connection.execute(text("ANALYZE"))
    middle = users[size // 2]
    group = next(g for g in groups if any(m["group_id"] == g["id"] for m in members[:200]))
    keys = _last_page_keys(db)
    return Seeded(size, middle["display_name"], str(middle["mail"] or middle["upn_key"]), middle["upn_key"],
                  middle["id"], group["id"], group["display_name"], group["description"], keys)  # fmt: skip


def _last_page_keys(db: Database) -> dict[str, Any]:
    """The row just before the last page of each listing, and its offset (what either paging needs)."""
    orders = {
        "users": ("app_user", "upn_key, id", "upn_key, id"),
        "groups": ("app_group", "display_name, id", "display_name, id"),
        "audit": ("audit_entry", "activity_date_time DESC, id DESC", "activity_date_time, id"),
        "signins": ("sign_in_log", "created_at DESC, id DESC", "created_at, id"),
    }
    found: dict[str, Any] = {}
    with db.engine.connect() as connection:
        for name, (table, order, columns) in orders.items():
            total = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            offset = max(0, total - TOP)
            row = connection.execute(
                text(f"SELECT {columns} FROM {table} ORDER BY {order} LIMIT 1 OFFSET {max(0, offset - 1)}")
            ).one()
            first = row[0]
            if name in ("audit", "signins"):  # SQLite hands DATETIME back as text, naive
                when = datetime.fromisoformat(first) if isinstance(first, str) else first
                first = when if when.tzinfo else when.replace(tzinfo=UTC)
            found[name] = (offset, (first, row[1]))
    return found


def _paged(function: Callable[..., Any], key: tuple[int, Any]) -> dict[str, Any]:
    """The keyword that reaches a page: `after` (keyset paging) where the query takes it, else `offset`."""
    offset, after = key
    return {"after": after} if "after" in inspect.signature(function).parameters else {"offset": offset}


Query = Callable[[Tx], Any]


def shapes(s: Seeded) -> dict[str, Query]:
    def users(*conditions: Condition, **kw: Any) -> Query:
        return lambda tx: directory.find_users(tx, conditions, limit=TOP + 1, **kw)

    def groups(*conditions: Condition, **kw: Any) -> Query:
        return lambda tx: directory.find_groups(tx, conditions, limit=TOP + 1, **kw)

    def audit(wanted: AuditFilter, **kw: Any) -> Query:
        return lambda tx: audit_queries.search(tx, wanted, limit=TOP + 1, **kw)

    def signins(wanted: SignInFilter, **kw: Any) -> Query:
        return lambda tx: signin_log_queries.search(tx, wanted, limit=TOP + 1, **kw)

    def people(text: str) -> Query:
        return lambda tx: find_people(tx, operator(), text, after=None, limit=TOP)

    prefix = s.display_name[: len(s.display_name) - 2]
    return {
        "users, first page": users(),
        "users, last page": users(**_paged(directory.find_users, s.keys["users"])),
        "users, displayName eq": users(Condition("displayName", "eq", s.display_name.upper())),
        "users, startswith(displayName)": users(Condition("displayName", "startswith", prefix.lower())),
        "users, mail eq": users(Condition("mail", "eq", s.mail.upper())),
        "users, startswith(mail)": users(Condition("mail", "startswith", s.mail[:-18])),
        "users, userPrincipalName eq": users(Condition("userPrincipalName", "eq", s.upn.upper())),
        "users, startswith(userPrincipalName)": users(
            Condition("userPrincipalName", "startswith", s.upn[:-18])
        ),
        "users, accountEnabled eq false": users(Condition("accountEnabled", "eq", False)),
        "group members, first page": users(group_id=s.group_id),
        "groups, first page": groups(),
        "groups, last page": groups(**_paged(directory.find_groups, s.keys["groups"])),
        "groups, displayName eq": groups(Condition("displayName", "eq", s.group_name.lower())),
        "groups, startswith(displayName)": groups(Condition("displayName", "startswith", s.group_name[:-2])),
        "groups, description eq": groups(Condition("description", "eq", s.group_description.upper())),
        "groups, startswith(description)": groups(
            Condition("description", "startswith", s.group_description[:-3])
        ),
        "audit, newest page": audit(AuditFilter()),
        "audit, last page": audit(AuditFilter(), **_paged(audit_queries.search, s.keys["audit"])),
        "audit, by target": audit(AuditFilter(target_ids=(s.user_id,))),
        "sign-ins, newest page": signins(SignInFilter()),
        "sign-ins, last page": signins(
            SignInFilter(), **_paged(signin_log_queries.search, s.keys["signins"])
        ),
        "sign-ins, by userPrincipalName": signins(SignInFilter(user_principal_names=(s.upn.upper(),))),
        "sign-ins, by userId": signins(SignInFilter(user_ids=(s.user_id,))),
        # The admin portal's search: the start of a name, sign-in name or email, three ranges merged.
        "portal search, a name's start": people(prefix),
        "portal search, an address's start": people(s.mail[:-18]),
    }  # fmt: skip


def once(db: Database, query: Query) -> float:
    """The wall time of one call in its own read transaction, as a request has it."""
    start = time.perf_counter()
    with db.transaction("read") as tx:
        query(tx)
    return time.perf_counter() - start


def timed_pair(small: tuple[Database, Query], large: tuple[Database, Query]) -> tuple[float, float]:
    """The median of BATCH calls on each size, the two sizes taking turns call by call, so that a slow
    moment of the machine falls on both."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(BATCH):
        samples[0].append(once(*small))
        samples[1].append(once(*large))
    return statistics.median(samples[0]), statistics.median(samples[1])


@contextmanager
def store(kind: str, size: int) -> Iterator[Database]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pb-dir-bench-") as folder:
            db = Database(f"sqlite:///{Path(folder) / 'store.db'}")
            try:
                db.upgrade()
                yield db
            finally:
                db.dispose()
        return
    url = os.environ.get("PASSBRIDGE_TEST_PG_URL")
    if not url:
        raise SystemExit("--pg needs PASSBRIDGE_TEST_PG_URL (as the tests use)")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    db = Database(f"{url}{separator}options=-csearch_path%3D{schema}")
    try:
        db.upgrade()
        yield db
    finally:
        db.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(kind: str, large: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    times: dict[str, list[tuple[float, float]]] = {}
    with store(kind, SMALL) as small_db, store(kind, large) as large_db:
        started = time.monotonic()
        small, big = seed(small_db, SMALL), seed(large_db, large)
        print(
            f"{kind}: seeded {SMALL:,} and {large:,} users in {time.monotonic() - started:.0f} s", flush=True
        )
        small_shapes, big_shapes = shapes(small), shapes(big)
        for _ in range(rounds + 1):  # the first round only warms: it compiles and loads pages
            for name in small_shapes:
                pair = timed_pair((small_db, small_shapes[name]), (large_db, big_shapes[name]))
                times.setdefault(name, []).append(pair)
        times = {name: pairs[1:] for name, pairs in times.items()}
    return times


def report(kind: str, large: int, times: dict[str, list[tuple[float, float]]]) -> bool:
    print(f"\n{kind}: {large:,} users / {SMALL:,} users, median of {len(next(iter(times.values())))} rounds")
    print(f"  {'query':<40} {'1,000':>9} {f'{large:,}':>9}  ratio (rounds min-max)")
    met = True
    for name, pairs in times.items():
        ratios = sorted(b / a for a, b in pairs)
        ratio = statistics.median(ratios)
        met &= ratio <= GOAL
        print(f"  {name:<40} {statistics.median(a for a, _ in pairs) * 1e3:7.2f}ms "
              f"{statistics.median(b for _, b in pairs) * 1e3:7.2f}ms  {ratio:6.2f} "
              f"({ratios[0]:.2f}-{ratios[-1]:.2f}){'' if ratio <= GOAL else '  MISSED'}")  # fmt: skip
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--users", type=int, default=100_000)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--sqlite", action="store_const", dest="kinds", const=["sqlite"])
    which.add_argument("--pg", action="store_const", dest="kinds", const=["postgresql"])
    which.add_argument("--both", action="store_const", dest="kinds", const=["sqlite", "postgresql"])
    args = parser.parse_args()
    kinds = args.kinds or (
        ["sqlite", "postgresql"] if os.environ.get("PASSBRIDGE_TEST_PG_URL") else ["sqlite"]
    )
    print(f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)  # fmt: skip
    met = True
    for kind in kinds:
        met &= report(kind, args.users, measure(kind, args.users, args.rounds))
    print(f"\ngoal: every ratio <= {GOAL}: {'met' if met else 'MISSED'}")
    return 0 if met else 3


if __name__ == "__main__":
    sys.exit(main())
