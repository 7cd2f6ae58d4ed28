"""Running a service call from a Graph route: one unit of work, placed by store/runner.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

from passbridge.services.context import Env
from passbridge.store import runner
from passbridge.store.tx import Tx

T = TypeVar("T")


def env_of(request: Request) -> Env:
    env: Env = request.app.state.env
    return env


def is_beta(request: Request) -> bool:
    # The scope's path, not request.url: building the URL object cost more than a Graph read's JSON.
    path: str = request.scope["path"]
    return path.startswith("/beta/")


async def in_unit(
    request: Request, work: Callable[[Tx, Env], T], *, readonly: bool = False, point_read: bool = False
) -> T:
    """Run `work` in one transaction in the threadpool; render its result before returning it,
    since ORM rows must not be touched after the session closes. `point_read` marks a read-only unit
    of a few indexed lookups, which store/runner.py's `read` may run without the hop."""
    env = env_of(request)

    def run() -> T:
        with env.db.transaction("read" if readonly or point_read else "write") as tx:
            return work(tx, env)

    if point_read:
        return await runner.read(env.db, run)
    return await runner.off_loop(run)


async def in_read(request: Request, work: Callable[[Tx, Env], T]) -> T:
    """Run `work`, a read of a few indexed Core selects, in an autocommit Tx: no Session and no ORM
    (the hot Graph reads; bench/README.md). Placed like a point read. Each select stands alone, with no
    read transaction around them: a methods read is one statement, plus the user's groups when the
    policy targets groups, and a group change landing between the two is no different from one landing
    just before or after the request."""
    env = env_of(request)

    def run() -> T:
        with env.db.transaction("autocommit") as tx:
            return work(tx, env)

    return await runner.read(env.db, run)
