"""Admin portal: every live pass in the tenant (usable now or not yet valid), filtered and sorted, and
revoking one or many."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError
from passbridge.passes import inventory
from passbridge.passes.inventory_queries import LiveFilter, LiveSort, LiveState
from passbridge.store import runner
from passbridge.web.admin.base import BadForm, Refused, administrator, bad_form, in_tx, posted_choices
from passbridge.web.pages import env_of, page, see_other

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATES = {LiveState.ACTIVE: "Active", LiveState.PENDING: "Not yet valid", LiveState.USED: "Used"}
MAX_QUERY = 256


def _filter(params: dict[str, str]) -> LiveFilter:
    """The filter a query string asks for; anything unknown is the default, never an error."""
    state = params.get("state", "")
    kind = params.get("kind", "")
    sort = params.get("sort", "")
    return LiveFilter(
        user_prefix=params.get("q", "").strip()[:MAX_QUERY],
        state=LiveState(state) if state in LiveState._value2member_map_ else None,
        one_time={"one-time": True, "reusable": False}.get(kind),
        sort=LiveSort(sort) if sort in LiveSort._value2member_map_ else LiveSort.EXPIRES,
        descending=params.get("order") == "desc",
    )


@router.get("/admin/passes")
async def live_passes(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    params = dict(request.query_params)
    wanted = _filter(params)
    try:
        number = min(max(int(params.get("page", "1")), 1), 10_000)
    except ValueError:
        number = 1
    error: str | None = None
    try:
        rows = await in_tx(
            request,
            lambda tx, env: inventory.live(
                tx, env, who.principal, wanted, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
            ),
        )
    except DomainError as exc:
        rows, error = [], exc.message
    kept = {k: v for k, v in params.items() if k in ("q", "state", "kind", "sort", "order") and v}

    def link(to: int) -> str:
        return "/admin/passes?" + urlencode({**kept, "page": str(to)})

    now = env_of(request).clock.now()
    return page(
        "admin/passes.html",
        passes=rows[:PAGE_SIZE],
        states=STATES,
        now=now,
        wanted=wanted,
        params=params,
        error=error,
        notice=_notice(params),
        page_number=number,
        previous_url=link(number - 1) if number > 1 else None,
        next_url=link(number + 1) if len(rows) > PAGE_SIZE else None,
        **who.context("passes"),
    )


def _notice(params: dict[str, str]) -> str | None:
    done = params.get("revoked")
    if done is None or not done.isdigit():
        return None
    count = int(done)
    return f"{count} pass{'es' if count != 1 else ''} revoked."


@router.post("/admin/passes/revoke")
async def revoke(request: Request) -> Response:
    try:
        who = await administrator(request)
        chosen = await posted_choices(request, who, "pass")
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    # Each checkbox names "<user id>:<pass id>"; anything else is no pass of ours.
    pairs = [(user, pass_id) for user, _, pass_id in (v.partition(":") for v in chosen) if user and pass_id]
    result = await runner.off_loop(inventory.revoke, env_of(request), who.principal, pairs)
    if result.refused:
        return page(
            "problem.html",
            status=400,
            tenant=who.tenant,
            title=f"{result.done} revoked, {len(result.refused)} left alone",
            message=" ".join(dict.fromkeys(result.refused)),
            link_href="/admin/passes",
            link_text="Back to live passes",
        )
    return see_other(f"/admin/passes?revoked={result.done}")
