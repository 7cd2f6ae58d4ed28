"""A Passbridge extension in Graph's shape: bulk Temporary Access Passes as a long-running job.

`POST /beta/passbridge/temporaryAccessPassBatches` with `groupId` or `userPrincipalNames` starts a job in
the background and answers 202 with its Location; `GET` on it tells the status; `POST .../result` hands out
the passes once (a POST, so no retry or prefetch of a GET can spend it); `GET .../passes` reports which
were used. Errors are Graph's error body. docs/graph-compat.md describes it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from passbridge.clock import iso_z
from passbridge.domain.errors import Conflict
from passbridge.graph.auth import established
from passbridge.graph.body import parse
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.methods import Timestamp
from passbridge.graph.odata import context_url
from passbridge.graph.openapi import body
from passbridge.passes import bulk, bulk_jobs
from passbridge.passes.bulk import Outcome
from passbridge.passes.bulk_jobs import JobView
from passbridge.passes.rules import PassRequest
from passbridge.services.context import Env
from passbridge.store.tx import Tx

router = APIRouter()
BATCHES = "/passbridge/temporaryAccessPassBatches"
TYPE = "#passbridge.temporaryAccessPassBatch"
STATUS = {"queued": "notStarted", "running": "running", "done": "succeeded", "failed": "failed"}
NO_STORE = {"Cache-Control": "no-store"}


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groupId: StrictStr | None = None
    userPrincipalNames: list[StrictStr] | None = Field(default=None, max_length=bulk.MAX_TARGETS)
    startDateTime: Timestamp = None
    lifetimeInMinutes: StrictInt | None = None
    isUsableOnce: StrictBool | None = None


def _job_json(request: Request, view: JobView) -> dict[str, Any]:
    job = view.job
    return {
        "@odata.context": context_url(request, "passbridge/temporaryAccessPassBatches/$entity"),
        "@odata.type": TYPE,
        "id": job.id,
        "status": STATUS.get(view.state, view.state),
        "statusDetail": job.message,
        "createdDateTime": iso_z(job.created_at),
        "lastActionDateTime": iso_z(job.updated_at),
        "source": job.source,
        "startDateTime": iso_z(job.start_at) if job.start_at else None,
        "lifetimeInMinutes": job.lifetime_minutes,
        "isUsableOnce": job.is_usable_once,
        "total": job.total,
        "done": job.done,
        "issued": job.issued,
        "refused": job.refused,
        "isResultAvailable": view.result_available,
        "isResumable": view.resumable,
    }


def _location(request: Request, job_id: str) -> str:
    return f"{request.app.state.env.settings.base_url}/beta{BATCHES}/{job_id}"


@router.post(BATCHES, status_code=202, openapi_extra=body(BatchBody))
async def create_batch(request: Request) -> JSONResponse:
    who = established(request)
    wanted = await parse(request, BatchBody, accepted_types=(TYPE,))
    if (wanted.groupId is None) == (wanted.userPrincipalNames is None):
        raise GraphError(400, "badRequest", "Give exactly one of groupId or userPrincipalNames.")
    terms = PassRequest(wanted.startDateTime, wanted.lifetimeInMinutes, wanted.isUsableOnce)

    def work(tx: Tx, env: Env) -> JobView:
        if wanted.groupId is not None:
            name, targets = bulk.group_targets(tx, env, who, wanted.groupId)
            source = f"group {name}"
        else:
            targets = [n.strip() for n in wanted.userPrincipalNames or []]
            source = f"{len(targets)} userPrincipalNames"
        job_id = bulk.create_job(
            tx, env, who, source=source, targets=targets, request=terms, keeps_result=True
        )
        return bulk_jobs.get_job(tx, env, who, job_id)

    view = await in_unit(request, work)
    bulk_jobs.run_in_background(request.app.state.env, who, view.job.id)
    headers = {"Location": _location(request, view.job.id)}
    return JSONResponse(_job_json(request, view), status_code=202, headers=headers)


@router.get(f"{BATCHES}/{{job_id}}")
async def get_batch(request: Request, job_id: str) -> JSONResponse:
    who = established(request)

    def read(tx: Tx, env: Env) -> JobView:
        return bulk_jobs.get_job(tx, env, who, job_id)

    def mark(tx: Tx, env: Env) -> JobView:
        return bulk_jobs.mark_interrupted(tx, env, who, job_id)

    # Polled often while a run writes: a read, and a write only the once a stopped run is recorded.
    view = await in_unit(request, read, readonly=True)
    if view.stale:
        view = await in_unit(request, mark)
    return JSONResponse(_job_json(request, view))


def _pass_json(o: Outcome) -> dict[str, Any]:
    return {
        "userPrincipalName": o.upn or o.target,
        "status": o.status,
        "reason": o.reason,
        "temporaryAccessPass": o.value,
        "startDateTime": iso_z(o.start) if o.start else None,
        "endDateTime": iso_z(o.end) if o.end else None,
        "isUsableOnce": o.one_time,
    }


@router.post(f"{BATCHES}/{{job_id}}/result")
async def take_result(request: Request, job_id: str) -> JSONResponse:
    """The passes, once: the sealed copies are deleted as they are read."""
    who = established(request)

    def work(tx: Tx, env: Env) -> list[Outcome]:
        return bulk_jobs.take_result(tx, env, who, job_id)

    try:
        outcomes = await in_unit(request, work)
    except bulk_jobs.ResultGone as gone:
        raise GraphError(410, "resultGone", gone.message) from None
    except Conflict as busy:
        raise GraphError(409, "conflict", busy.message) from None
    return JSONResponse({"value": [_pass_json(o) for o in outcomes]}, headers=NO_STORE)


@router.post(f"{BATCHES}/{{job_id}}/resume", status_code=202)
async def resume_batch(request: Request, job_id: str) -> Response:
    who = established(request)

    def work(tx: Tx, env: Env) -> JobView:
        return bulk_jobs.resume(tx, env, who, job_id)

    try:
        view = await in_unit(request, work)
    except Conflict as refused:
        raise GraphError(409, "conflict", refused.message) from None
    bulk_jobs.run_in_background(request.app.state.env, who, view.job.id)
    headers = {"Location": _location(request, view.job.id)}
    return JSONResponse(_job_json(request, view), status_code=202, headers=headers)


@router.get(f"{BATCHES}/{{job_id}}/passes")
async def batch_report(request: Request, job_id: str) -> JSONResponse:
    """Which of the job's passes were used, expired unused, are not used yet, or were replaced."""
    who = established(request)

    def work(tx: Tx, env: Env) -> list[bulk_jobs.ReportLine]:
        return bulk_jobs.report(tx, env, who, job_id)

    lines = await in_unit(request, work, readonly=True)
    return JSONResponse({"value": [x.as_json() for x in lines]})
