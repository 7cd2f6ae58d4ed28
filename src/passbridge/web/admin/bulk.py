"""Admin portal: bulk passes. Pick a group or upload a CSV, set the terms, and a job runs in the background
(passes/bulk.py); its page shows progress (a meta refresh: no script needed), then offers the result CSV for
one download, after which the sealed passes are deleted, and reports which passes were used.

A job belongs to the administrator who started it: nobody else's page lists or opens it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge import forms
from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import Conflict, DomainError, NotFound
from passbridge.passes import bulk, bulk_jobs
from passbridge.passes.bulk_csv import MAX_CSV_BYTES, read_names, result_csv
from passbridge.passes.bulk_jobs import JobView
from passbridge.services.context import Env
from passbridge.signin.sessions import SessionService
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, BadForm, Refused, administrator, bad_form, in_tx, posted
from passbridge.web.admin.issue import _read_request, _zone
from passbridge.web.pages import SCRIPT_CSP, SECURITY_HEADERS, env_of, page, see_other

router = APIRouter(include_in_schema=False)

MAX_GROUPS = 500  # offered in the form's list; a tenant with more names a group by id in the CLI or Graph
REFRESH_S = 2
REPORT_ROWS = 500  # of the use report on the page; `passbridge tap bulk-report` lists them all


def _groups(tx: Tx, env: Env, who: Admin) -> list[tuple[str, str]]:
    try:
        found = DirectoryService(tx, env, who.principal).list_groups()
    except DomainError:
        return []
    return [(g.id, g.display_name) for g in found[:MAX_GROUPS]]


async def _render_form(
    request: Request, who: Admin, *, values: dict[str, str], error: str | None = None, status: int = 200
) -> Response:
    def work(tx: Tx, env: Env) -> tuple[list[tuple[str, str]], list[JobView]]:
        return _groups(tx, env, who), bulk_jobs.jobs(tx, env, who.principal)

    groups, recent = await in_tx(request, work)
    return page(
        "admin/bulk.html",
        status=status,
        headers=SCRIPT_CSP,
        groups=groups,
        jobs=recent,
        values=values,
        error=error,
        max_mib=MAX_CSV_BYTES // (1024 * 1024),
        **who.context("bulk"),
    )


@router.get("/admin/bulk")
async def bulk_form(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    return await _render_form(request, who, values={})


async def _upload(request: Request, who: Admin) -> tuple[dict[str, str], bytes | None]:
    """The posted fields and the CSV file (None when none was chosen), once the CSRF token is this
    session's. Raises BadForm; forms.FormTooLarge for a file past the limit."""
    try:
        fields, files = await forms.read_upload(request, max_bytes=MAX_CSV_BYTES + 64 * 1024, max_fields=16)
    except forms.FormUnreadable:
        raise BadForm() from None
    form = dict(fields)
    if not SessionService(env_of(request)).check_csrf(who.view, form.get("csrf_token")):
        raise BadForm()
    data = files.get("csv")
    return form, (data if data else None)


@router.post("/admin/bulk")
async def start_bulk(request: Request) -> Response:
    try:
        who = await administrator(request)
        form, data = await _upload(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    except forms.FormTooLarge:
        message = f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB: split it into several runs."
        return await _render_form(request, who, values={}, error=message, status=413)
    values = {k: form.get(k, "") for k in ("source", "group", "lifetime", "start", "once")}
    errors: dict[str, str] = {}
    wanted = _read_request(form, _zone(form.get("tz")), errors)
    if errors:
        return await _render_form(request, who, values=values, error=" ".join(errors.values()), status=400)
    use_csv = form.get("source") == "csv"
    if use_csv and data is None:
        return await _render_form(
            request, who, values=values, error="Choose a CSV file to upload.", status=400
        )
    if not use_csv and not form.get("group"):
        return await _render_form(request, who, values=values, error="Choose a group.", status=400)

    def work(tx: Tx, env: Env) -> str:
        if use_csv:
            targets, source = read_names(data or b"", "The file"), "an uploaded CSV"
        else:
            name, targets = bulk.group_targets(tx, env, who.principal, form.get("group", ""))
            source = f"group {name}"
        return bulk.create_job(
            tx, env, who.principal, source=source, targets=targets, request=wanted, keeps_result=True
        )

    try:
        job_id = await in_tx(request, work, write=True)
    except DomainError as exc:
        return await _render_form(request, who, values=values, error=exc.message, status=400)
    bulk_jobs.run_in_background(env_of(request), who.principal, job_id)
    return see_other(f"/admin/bulk/{job_id}")


def _gone(who: Admin, title: str, message: str, status: int) -> Response:
    return page(
        "problem.html",
        status=status,
        tenant=who.tenant,
        title=title,
        message=message,
        link_href="/admin/bulk",
        link_text="Back to bulk passes",
    )


def _no_such_job(who: Admin) -> Response:
    return _gone(who, "No such job", "There is no bulk pass job of yours with that id.", 404)


@router.get("/admin/bulk/{job_id}")
async def job_page(request: Request, job_id: str) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response

    def work(tx: Tx, env: Env) -> tuple[JobView, list[bulk_jobs.ReportLine]]:
        view = bulk_jobs.get_job(tx, env, who.principal, job_id)
        return view, bulk_jobs.report(tx, env, who.principal, job_id) if view.finished else []

    def mark(tx: Tx, env: Env) -> JobView:
        return bulk_jobs.mark_interrupted(tx, env, who.principal, job_id)

    try:
        # Refreshed every few seconds while a run writes: a read, and a write only to record a stopped run.
        view, lines = await in_tx(request, work)
        if view.stale:
            view = await in_tx(request, mark, write=True)
    except NotFound:
        return _no_such_job(who)
    tally: dict[str, int] = {}
    for line in lines:
        tally[line.use] = tally.get(line.use, 0) + 1
    return page(
        "admin/bulk_job.html",
        view=view,
        job=view.job,
        lines=lines[:REPORT_ROWS],
        more=max(0, len(lines) - REPORT_ROWS),
        tally=sorted(tally.items()),
        refresh=None if view.finished else REFRESH_S,
        percent=100 * view.job.done // max(view.job.total, 1),
        **who.context("bulk"),
    )


@router.post("/admin/bulk/{job_id}/result")
async def download(request: Request, job_id: str) -> Response:
    """The result CSV, once: the sealed passes are deleted in the transaction that reads them."""
    try:
        who = await administrator(request)
        await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    try:
        outcomes = await in_tx(
            request, lambda tx, env: bulk_jobs.take_result(tx, env, who.principal, job_id), write=True
        )
    except NotFound:
        return _no_such_job(who)
    except bulk_jobs.ResultGone as gone:
        return _gone(who, "The result is gone", gone.message, 410)
    except Conflict as busy:
        return _gone(who, "Not finished yet", busy.message, 409)
    name = f"passes-{job_id.strip().lower()[:8]}.csv"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(result_csv(outcomes), media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/admin/bulk/{job_id}/resume")
async def resume(request: Request, job_id: str) -> Response:
    try:
        who = await administrator(request)
        await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    try:
        view = await in_tx(
            request, lambda tx, env: bulk_jobs.resume(tx, env, who.principal, job_id), write=True
        )
    except NotFound:
        return _no_such_job(who)
    except Conflict as refused:
        return _gone(who, "This job cannot resume", refused.message, 409)
    bulk_jobs.run_in_background(env_of(request), who.principal, view.job.id)
    return see_other(f"/admin/bulk/{view.job.id}")
