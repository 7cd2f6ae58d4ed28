"""Bulk jobs once started: who may see one, its state told honestly, its result taken once, the report of
which passes were used, the CSV both edges hand out, and running a job in the background of a server."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from passbridge.clock import iso_z
from passbridge.domain.errors import Conflict, DomainError, NotFound
from passbridge.passes import bulk_queries as store
from passbridge.passes.bulk import DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, BulkRun, Outcome, seal_context
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

log = logging.getLogger("passbridge.bulk")

# A running job writes a batch (and beats its heartbeat) every second or two, and a queued one every
# HEARTBEAT while it waits: silence this long means the process running it is gone.
STALE = timedelta(minutes=2)
HEARTBEAT_S = 30.0


class ResultGone(DomainError):
    """The job's result was downloaded already (or never kept): it exists nowhere any more."""


@dataclass(frozen=True)
class JobView:
    job: store.JobRecord
    state: str  # the stored state, or "interrupted" when its heartbeat stopped

    @property
    def stale(self) -> bool:
        """Stopped by its heartbeat's silence but not yet recorded so (`mark_interrupted` does)."""
        return self.state == INTERRUPTED and self.job.state in (QUEUED, RUNNING)

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED, INTERRUPTED)

    @property
    def result_available(self) -> bool:
        return (
            self.job.keeps_result
            and self.job.result_taken_at is None
            and self.finished
            and self.job.issued > 0
        )

    @property
    def resumable(self) -> bool:
        """A run cut short whose passes so far are kept (sealed): the rest can still be issued. A CLI run's
        passes went to its file, which the run wrote when it stopped: run the command again instead."""
        return (
            self.state in (INTERRUPTED, FAILED)
            and self.job.keeps_result
            and self.job.result_taken_at is None
            and self.job.done < self.job.total
        )


def _visible(principal: Principal, job: store.JobRecord) -> bool:
    """The operator sees every job; anyone else only the jobs they started."""
    return principal.is_operator or (
        job.requested_by_kind == principal.kind and job.requested_by_id == principal.id
    )


def state_of(job: store.JobRecord, now: datetime) -> str:
    if job.state in (QUEUED, RUNNING) and now - job.updated_at > STALE:
        return INTERRUPTED
    return job.state


def get_job(tx: Tx, env: Env, principal: Principal, job_id: str) -> JobView:
    job = store.job(tx, job_id.strip().lower())
    if job is None or not _visible(principal, job):
        raise NotFound(f"No bulk pass job with id '{job_id}' exists.", kind="job")
    return JobView(job, state_of(job, env.clock.now()))


def jobs(tx: Tx, env: Env, principal: Principal, limit: int = 20) -> list[JobView]:
    now = env.clock.now()
    return [JobView(j, state_of(j, now)) for j in store.jobs_by(tx, principal.id, limit)]


def mark_interrupted(tx: Tx, env: Env, principal: Principal, job_id: str) -> JobView:
    """Record what the heartbeat says: the job stopped. Its passes issued so far stand (and, when kept,
    stay sealed for the download); resuming issues for the rest."""
    view = get_job(tx, env, principal, job_id)
    if view.state == INTERRUPTED and view.job.state != INTERRUPTED:
        message = f"Interrupted after {view.job.done} of {view.job.total}: the process running it stopped."
        store.set_state(
            tx, view.job.id, INTERRUPTED, now=env.clock.now(), message=message, only_from=(QUEUED, RUNNING)
        )
        view = get_job(tx, env, principal, job_id)
    return view


def resume(tx: Tx, env: Env, principal: Principal, job_id: str) -> JobView:
    """Queue an interrupted or failed job again, for its targets still pending (run it next)."""
    view = mark_interrupted(tx, env, principal, job_id)
    if not view.resumable:
        raise Conflict("Only a job that stopped before its end, and whose result is still kept, can resume.")
    store.set_state(tx, view.job.id, QUEUED, now=env.clock.now(), only_from=(INTERRUPTED, FAILED))
    return get_job(tx, env, principal, job_id)


def take_result(tx: Tx, env: Env, principal: Principal, job_id: str) -> list[Outcome]:
    """The job's outcomes with their passes, once: the sealed passes are deleted in this transaction."""
    view = get_job(tx, env, principal, job_id)
    if not view.job.keeps_result:
        raise ResultGone("This job's passes were written to a file when it ran; they are kept nowhere else.")
    if not view.finished:
        raise Conflict("The job is still running; its result can be downloaded when it ends.")
    if not store.claim_result(tx, view.job.id, env.clock.now()):
        raise ResultGone("This job's result was downloaded already and is gone: the passes are kept nowhere.")
    outcomes = []
    for item in store.items(tx, view.job.id):
        value = None
        if item.sealed_pass is not None:
            value = env.keeper.unseal(item.sealed_pass, seal_context(view.job.id, item.position)).decode()
        outcomes.append(
            Outcome(
                item.position,
                item.target,
                item.upn,
                item.status,
                item.reason,
                value,
                item.start_at,
                item.expires_at,
                item.is_usable_once,
                item.user_id,
                item.pass_id,
            )
        )
    store.forget_passes(tx, view.job.id)
    return outcomes


@dataclass(frozen=True)
class ReportLine:
    upn: str
    use: str  # used, expired unused, not used yet, replaced or revoked
    start: datetime
    end: datetime
    used_at: datetime | None

    def as_json(self) -> dict[str, str | None]:
        """Graph's property names, for the extension endpoint and the CLI's --json."""
        return {
            "userPrincipalName": self.upn,
            "use": self.use,
            "startDateTime": iso_z(self.start),
            "endDateTime": iso_z(self.end),
            "usedDateTime": iso_z(self.used_at) if self.used_at else None,
        }


def report(tx: Tx, env: Env, principal: Principal, job_id: str) -> list[ReportLine]:
    """Which of the job's passes were used and which expired unused, from the pass rows as they are now."""
    view = get_job(tx, env, principal, job_id)
    now = env.clock.now()
    lines = []
    for row in store.report_rows(tx, view.job.id):
        used = row.used_at or row.last_used_at
        if not row.still_there:
            use = "replaced or revoked"
        elif used is not None:
            use = "used"
        elif row.expires_at <= now:
            use = "expired unused"
        else:
            use = "not used yet"
        lines.append(ReportLine(row.upn, use, row.start_at, row.expires_at, used))
    return lines


# One bulk run per process at a time: each uses every core already.
_running = threading.Lock()


def run_in_background(env: Env, principal: Principal, job_id: str, *, niceness: int = 10) -> threading.Thread:
    """Run the job on a thread of its own; it survives the request (and the page) that started it."""

    def main() -> None:
        while not _running.acquire(timeout=HEARTBEAT_S):
            with env.db.transaction() as tx:
                store.advance(tx, job_id, issued=0, refused=0, now=env.clock.now())
        try:
            BulkRun(env, principal, job_id, niceness=niceness).run()
        except Exception as exc:  # the job row says it failed; the log says why, without any pass
            log.error("bulk pass job %s failed: %s", job_id, type(exc).__name__)
        finally:
            _running.release()

    thread = threading.Thread(target=main, name=f"passbridge-bulk-{job_id[:8]}", daemon=True)
    thread.start()
    return thread
