"""Bulk issuing: a pass for every member of a group or every name on a list, each through TapService's
rules (permission and tier per target, policy terms, one pass per user replacing the previous, the audit
entries, the end of the user's sessions), with the Argon2id hashes in a process pool.

A run is a pipeline. The main thread plans a few targets at a time in a read transaction
(`TapService.plan`: every check, nothing written), draws their passes and sends what the keeper makes of
them to a worker; as hashes come back it writes them BATCH at a time in one write transaction, planning
each target again there (the directory may have changed meanwhile) before storing the pass with
`TapService.issue_planned`. Enough tasks stay in flight that the workers never wait for a write. The job's
items record each target's outcome in the same transaction as its pass, and with it, when the job keeps
its result, the pass sealed with the pepper-derived key: a run cut short by a restart has lost nothing,
and resumes with the targets still pending.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from passbridge.directory import access
from passbridge.directory.service import GROUP_READ, DirectoryService
from passbridge.domain.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.methods.access import tier_refusal
from passbridge.passes import bulk_queries as store
from passbridge.passes import policy_queries as policy_store
from passbridge.passes import queries as pass_store
from passbridge.passes import rules
from passbridge.passes.hash_pool import HashPool
from passbridge.passes.policy_rules import TapPolicy
from passbridge.passes.service import WRITE, TapService
from passbridge.services.context import Env, Principal
from passbridge.store.models import BulkPassJob
from passbridge.store.tx import Tx

TASK = 8  # passes per worker task: small, so the workers share the work evenly to the last one
AHEAD = 6  # tasks in flight per worker while the main thread plans and writes
PLAN_TASKS = 4  # tasks planned in one read transaction
BATCH = 100  # passes per write transaction: a fraction of a second of the write lock
MAX_TARGETS = 100_000
MAX_TARGET_CHARS = 400  # the items' column; a sign-in name is at most 113
QUEUED, RUNNING, DONE, FAILED, INTERRUPTED = "queued", "running", "done", "failed", "interrupted"

Progress = Callable[[int, int], None]  # (targets done, total)


@dataclass(frozen=True)
class Outcome:
    """What became of one target. `value` is the pass, kept only for a caller that asked to keep it."""

    position: int
    target: str
    upn: str | None
    status: str
    reason: str | None = None
    value: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    one_time: bool | None = None
    user_id: str | None = None
    pass_id: str | None = None


@dataclass
class _Planned:
    position: int
    target: str
    user_id: str | None = None
    upn: str | None = None
    value: str | None = None
    terms: rules.PassTerms | None = None
    refusal: str | None = None


@dataclass
class _InFlight:
    plans: list[_Planned]
    hashes: Future[list[str]] | None
    done: list[str] = field(default_factory=list)


def refusal_reason(exc: DomainError) -> str:
    """The result file's reason for a refused target: the kind first, so a spreadsheet can sort by it."""
    kind = (
        "not found"
        if isinstance(exc, NotFound)
        else "not allowed"
        if isinstance(exc, PermissionDenied)
        else ("policy refuses")
    )
    return f"{kind}: {exc.message}"


def group_targets(tx: Tx, env: Env, principal: Principal, group_ref: str) -> tuple[str, list[str]]:
    """The group's name and its direct members' ids. Reading the members needs what reading a group needs."""
    access.require_app_permission(principal, *GROUP_READ)
    group = DirectoryService(tx, env, principal).find_group(group_ref)
    return group.display_name, store.member_ids(tx, group.id)


def create_job(
    tx: Tx,
    env: Env,
    principal: Principal,
    *,
    source: str,
    targets: Sequence[str],
    request: rules.PassRequest,
    keeps_result: bool,
) -> str:
    """Record a job for `targets` (ids or sign-in names), once the caller may issue passes at all and the
    policy accepts the terms: what fails for everyone fails once, here, not once per target."""
    access.require_app_permission(principal, *WRITE)
    if principal.kind == "user":
        refusal = tier_refusal(principal.roles, lambda: ())
        if refusal is not None:
            raise PermissionDenied(refusal)
    policy, _ = policy_store.load(tx)
    now = env.clock.now()
    rules.decide_terms(request, policy, now=now)
    if not targets:
        raise InvalidInput(f"{source} names nobody: there is no one to issue a pass for.")
    if len(targets) > MAX_TARGETS:
        raise InvalidInput(f"{source} names {len(targets)} people; one run issues at most {MAX_TARGETS}.")
    long = next((n for n, t in enumerate(targets, 1) if len(t) > MAX_TARGET_CHARS), None)
    if long is not None:
        raise InvalidInput(
            f"Name {long} of {source} is {len(targets[long - 1])} characters long: no sign-in name or id is "
            f"longer than {MAX_TARGET_CHARS}."
        )
    job = BulkPassJob(
        id=new_guid(),
        requested_by_kind=principal.kind,
        requested_by_id=principal.id,
        requested_by_name=principal.display_name,
        created_at=now,
        updated_at=now,
        finished_at=None,
        state=QUEUED,
        source=source[:400],
        start_at=request.start,
        lifetime_minutes=request.lifetime_minutes,
        is_usable_once=request.is_usable_once,
        total=len(targets),
        done=0,
        issued=0,
        refused=0,
        keeps_result=keeps_result,
        result_taken_at=None,
        message=None,
    )
    store.add_job(tx, job, targets)
    return job.id


def request_of(job: store.JobRecord) -> rules.PassRequest:
    return rules.PassRequest(job.start_at, job.lifetime_minutes, job.is_usable_once)


def seal_context(job_id: str, position: int) -> bytes:
    return f"passbridge bulk pass {job_id} {position}".encode()


@dataclass
class BulkRun:
    """Runs one job to its end in this thread. `keep_values` keeps the passes in the outcomes (the CLI
    writes them to its file); otherwise they leave memory once written (sealed, when the job keeps them)."""

    env: Env
    principal: Principal
    job_id: str
    keep_values: bool = False
    progress: Progress | None = None
    processes: int | None = None
    niceness: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def run(self) -> list[Outcome]:
        now = self.env.clock.now()
        with self.env.db.transaction() as tx:
            job = store.job(tx, self.job_id)
            if job is None:
                raise NotFound("No such bulk pass job.")
            if not store.set_state(tx, self.job_id, RUNNING, now=now, only_from=(QUEUED,)):
                raise Conflict(f"That job is {job.state}; only a queued job runs.")
            todo = store.pending(tx, self.job_id)
            # A resumed run: whoever got a pass before the stop is not issued a second one.
            self._seen = set(store.issued_user_ids(tx, self.job_id))
        self._job, self._request = job, request_of(job)
        self._done = job.done
        try:
            self._pipeline(todo)
        except BaseException as exc:
            message = "stopped" if isinstance(exc, KeyboardInterrupt) else f"failed: {type(exc).__name__}"
            self._finish(FAILED, f"The run {message} after {self._done} of {job.total}.")
            raise
        self._finish(DONE, None)
        return self.outcomes

    def _finish(self, state: str, message: str | None) -> None:
        with self.env.db.transaction() as tx:
            store.set_state(tx, self.job_id, state, now=self.env.clock.now(), message=message, finished=True)

    def _pipeline(self, todo: list[tuple[int, str]]) -> None:
        chunks = iter([todo[i : i + TASK] for i in range(0, len(todo), TASK)])
        with HashPool(
            self.env.keeper.argon2_params, processes=self.processes, niceness=self.niceness
        ) as pool:
            flight: deque[_InFlight] = deque()
            ready: list[_InFlight] = []

            def fill() -> None:
                # A few tasks' planning in one read transaction, once that many have left the flight.
                room = pool.size * AHEAD - len(flight)
                if room >= PLAN_TASKS or not flight:
                    flight.extend(self._plan(list(_take(chunks, room)), pool))

            fill()
            while flight:
                head = flight.popleft()
                if head.hashes is not None:
                    head.done = head.hashes.result()
                ready.append(head)
                fill()
                if not flight or sum(len(r.plans) for r in ready) >= BATCH:
                    self._write(ready)
                    ready = []

    def _plan(self, chunks: list[list[tuple[int, str]]], pool: HashPool) -> list[_InFlight]:
        """Plan these chunks in one read transaction and send each chunk's passes to a worker."""
        if not chunks:
            return []
        planned_chunks: list[list[_Planned]] = []
        with self.env.db.transaction("read") as tx:
            service = TapService(tx, self.env, self.principal)
            policy, _ = policy_store.load(tx)
            # Targets named by id (a group's members) in the session at once: each plan's lookup is a hit.
            _loaded = store.users_by_id(tx, [t for chunk in chunks for _, t in chunk])
            for chunk in chunks:
                planned_chunks.append([self._plan_one(service, policy, p, t) for p, t in chunk])
        keeper = self.env.keeper
        flights = []
        for plans in planned_chunks:
            wanted = [keeper.peppered(p.value) for p in plans if p.value is not None]
            flights.append(_InFlight(plans, pool.submit(wanted) if wanted else None))
        return flights

    def _plan_one(self, service: TapService, policy: TapPolicy, position: int, target: str) -> _Planned:
        plan = _Planned(position, target)
        try:
            planned = service.plan(target, self._request, policy)
        except DomainError as exc:
            plan.refusal = refusal_reason(exc)
            return plan
        plan.user_id, plan.upn = planned.user.id, planned.user.user_principal_name
        if planned.user.id in self._seen:
            plan.refusal = "listed twice: one pass per user, issued for the first listing"
            return plan
        self._seen.add(planned.user.id)
        plan.terms, plan.value = planned.terms, planned.new_value()
        return plan

    def _write(self, ready: list[_InFlight]) -> None:
        rows: list[dict[str, Any]] = []
        outcomes: list[Outcome] = []
        with self.env.db.transaction() as tx, tx.session.no_autoflush:
            # The batch's users locked and loaded at once, with the passes they hold: each plan's lookup is
            # then a dictionary hit, and storing a pass neither locks nor reads again. Each user is in one
            # plan of the run at most (`_seen`), so no read in the batch needs another target's pending rows.
            locked = pass_store.lock_owners(
                tx, [p.user_id for f in ready for p in f.plans if p.user_id and p.value]
            )
            policy, _ = policy_store.load(tx)
            service = TapService(tx, self.env, self.principal)
            for flight in ready:
                hashes = iter(flight.done)
                for plan in flight.plans:
                    secret_hash = next(hashes) if plan.value is not None else None
                    outcome = self._store(service, policy, locked, plan, secret_hash)
                    outcomes.append(outcome)
                    rows.append(self._row(outcome))
            store.record(tx, self.job_id, rows)
            issued = sum(1 for o in outcomes if o.status == store.ISSUED)
            store.advance(
                tx, self.job_id, issued=issued, refused=len(outcomes) - issued, now=self.env.clock.now()
            )
        self._done += len(outcomes)
        if self.keep_values:
            self.outcomes.extend(outcomes)
        else:
            self.outcomes.extend(replace(o, value=None) for o in outcomes)
        if self.progress is not None:
            self.progress(self._done, self._job.total)

    def _store(
        self,
        service: TapService,
        policy: TapPolicy,
        locked: pass_store.LockedOwners,
        plan: _Planned,
        secret_hash: str | None,
    ) -> Outcome:
        if plan.refusal is not None or plan.value is None or secret_hash is None or plan.terms is None:
            return Outcome(
                plan.position, plan.target, plan.upn, store.REFUSED, plan.refusal, user_id=plan.user_id
            )
        try:
            # The checks again, now, in the transaction that writes: roles or the policy may have changed.
            planned = service.plan(plan.user_id or plan.target, self._request, policy)
            if (planned.terms.length, planned.terms.symbols) != (plan.terms.length, plan.terms.symbols):
                raise InvalidInput(
                    "the policy's pass length or alphabet changed during the run; run it again"
                )
        except DomainError as exc:
            reason = refusal_reason(exc)
            return Outcome(plan.position, plan.target, plan.upn, store.REFUSED, reason, user_id=plan.user_id)
        issued = service.issue_planned(planned, plan.value, secret_hash, locked)
        row = issued.view.row
        return Outcome(
            plan.position,
            plan.target,
            planned.user.user_principal_name,
            store.ISSUED,
            value=issued.value,
            start=row.start_at,
            end=issued.view.end,
            one_time=row.is_usable_once,
            user_id=planned.user.id,
            pass_id=row.id,
        )

    def _row(self, o: Outcome) -> dict[str, Any]:
        sealed = None
        if o.value is not None and self._job.keeps_result:
            sealed = self.env.keeper.seal(o.value.encode(), seal_context(self.job_id, o.position))
        return {
            "p": o.position,
            "status": o.status,
            "user_id": o.user_id,
            "upn": o.upn,
            "reason": o.reason,
            "pass_id": o.pass_id,
            "start_at": o.start,
            "expires_at": o.end,
            "is_usable_once": o.one_time,
            "sealed_pass": sealed,
        }


def _take(chunks: Iterator[list[tuple[int, str]]], n: int) -> Iterator[list[tuple[int, str]]]:
    for _ in range(max(0, n)):
        chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk
