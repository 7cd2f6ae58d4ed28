"""Bulk issuing against its bound: 10,000 passes (by default) for the members of one group, on SQLite and,
given a URL, PostgreSQL, against the hash-bound rate: usable cores / the time of one Argon2id hash at the
configured parameters, timed in this run (before and after the bulk run; their median). See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from passbridge.clock import SystemClock
from passbridge.config import load_settings
from passbridge.directory.tenant import initialise
from passbridge.passes import bulk
from passbridge.passes.rules import PassRequest
from passbridge.security.secrets import argon2_hasher, usable_cores
from passbridge.services.context import Env, keeper_for, operator
from passbridge.store.db import Database
from passbridge.store.models import Group, GroupMember, User

PEPPER = "bench-pepper-" + "x" * 40
HASH_SAMPLES = 15


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.node()}: {model}; {os.cpu_count()} cores, {usable_cores()} usable; load {load}"


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def hash_times(env: Env, samples: int) -> tuple[list[float], list[float]]:
    """Seconds per Argon2id hash, one at a time in this process, as a worker runs them: elapsed, and CPU."""
    hasher = argon2_hasher(env.keeper.argon2_params)
    peppered = env.keeper.peppered("Bench1234")
    elapsed, cpu = [], []
    for _ in range(samples):
        started, used = time.perf_counter(), time.thread_time()
        hasher.hash(peppered)
        elapsed.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - used)
    return elapsed, cpu


@contextmanager
def store(kind: str, pg_url: str | None) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pb-bulk-bench-") as folder:
            url = f"sqlite:///{Path(folder) / 'store.db'}"
            db = Database(url)
            db.upgrade()
            db.dispose()
            yield url
        return
    assert pg_url is not None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in pg_url else "?"
    url = f"{pg_url}{separator}options=-csearch_path%3D{schema}"
    try:
        db = Database(url)
        db.upgrade()
        db.dispose()
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def seed(env: Env, users: int) -> str:
    with env.db.transaction() as tx:
        initialise(tx, env, operator(), admin_upn="admin@contoso.example", tenant_name="Bench")
    now = datetime.now(UTC)
    group_id = str(uuid.uuid4())
    rows = []
    for n in range(users):
        upn = f"new.hire.{n}@contoso.example"
        rows.append(
            {"id": str(uuid.uuid4()), "user_principal_name": upn, "upn_key": upn,
             "display_name": f"New hire {n}", "mail": upn, "account_enabled": True, "created_at": now,
             "sessions_valid_from": now}
        )  # fmt: skip
    with env.db.engine.begin() as connection:
        connection.execute(insert(Group), [{"id": group_id, "display_name": "New hires", "created_at": now}])
        connection.execute(insert(User), rows)
        connection.execute(insert(GroupMember), [{"group_id": group_id, "user_id": r["id"]} for r in rows])
        if env.db.dialect == "postgresql":
            connection.execute(text("ANALYZE"))
    return group_id


def measure(kind: str, url: str, users: int) -> float:
    with tempfile.TemporaryDirectory(prefix="pb-bulk-data-") as data:
        settings = load_settings(data_dir=Path(data), database_url=url, pepper=PEPPER)
        env = Env(settings, Database(url), SystemClock(), keeper_for(settings, PEPPER.encode()))
        try:
            group_id = seed(env, users)
            before, cpu_before = hash_times(env, HASH_SAMPLES)
            with env.db.transaction() as tx:
                _, targets = bulk.group_targets(tx, env, operator(), group_id)
                job = bulk.create_job(
                    tx, env, operator(), source="group New hires", targets=targets,
                    request=PassRequest(), keeps_result=False,
                )  # fmt: skip
            started, own, workers = (
                time.perf_counter(),
                _cpu(resource.RUSAGE_SELF),
                _cpu(resource.RUSAGE_CHILDREN),
            )
            outcomes = bulk.BulkRun(env, operator(), job).run()
            elapsed = time.perf_counter() - started
            # The pool's workers have ended (and been waited for): their CPU is in RUSAGE_CHILDREN now.
            own, workers = _cpu(resource.RUSAGE_SELF) - own, _cpu(resource.RUSAGE_CHILDREN) - workers
            after, cpu_after = hash_times(env, HASH_SAMPLES)
        finally:
            env.db.dispose()
    issued = sum(1 for o in outcomes if o.status == "issued")
    if issued != users:
        raise SystemExit(f"{kind}: only {issued} of {users} passes issued")
    one_hash = statistics.median(before + after)
    bound = usable_cores() / one_hash
    achieved = users / elapsed
    ratio = achieved / bound
    print(
        f"{kind:10}  one hash {one_hash * 1000:.1f} ms (median of {2 * HASH_SAMPLES}: before "
        f"{statistics.median(before) * 1000:.1f}, after {statistics.median(after) * 1000:.1f})  "
        f"bound {bound:.1f}/s  achieved {achieved:.1f}/s ({users} in {elapsed:.1f} s)  ratio {ratio:.2f}"
    )
    busy = (own + workers) / elapsed
    hash_cpu = statistics.median(cpu_before + cpu_after)
    print(
        f"{'':10}  CPU per pass: hashing processes {workers / users * 1000:.1f} ms, this process (planning, "
        f"writing) {own / users * 1000:.1f} ms; cores busy {busy:.2f} of {usable_cores()}"
    )
    # What the run's own work allows when no other process takes the cores: one hash's CPU over the CPU a
    # pass took in all. Not the goal's figure (that is elapsed time, above), but what it tends to on an idle
    # machine; on a shared one the cores busy say how far the run was from having them.
    cpu_ratio = hash_cpu / ((own + workers) / users)
    print(f"{'':10}  CPU-only ratio {cpu_ratio:.2f} (one hash {hash_cpu * 1000:.1f} ms CPU)")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--pg", metavar="URL", help="also on this PostgreSQL database (in a fresh schema)")
    parser.add_argument("--goal", type=float, default=0.8)
    args = parser.parse_args()
    params = keeper_for(load_settings(pepper=PEPPER), PEPPER.encode()).argon2_params
    print(machine())
    print(
        f"Argon2id m={params.memory_kib} KiB t={params.time_cost} p={params.parallelism}; {args.users} passes"
    )
    ok = True
    for kind in ["sqlite"] + (["postgresql"] if args.pg else []):
        with store(kind, args.pg) as url:
            ok = measure(kind, url, args.users) >= args.goal and ok
    print(f"goal: ratio >= {args.goal}: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
