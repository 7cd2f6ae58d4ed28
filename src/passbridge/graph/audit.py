"""Graph-compatible routes: the directory audit log, with the $filter subset Passbridge supports."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request

from passbridge.graph.auth import caller
from passbridge.graph.common import in_unit
from passbridge.graph.log_query import (
    FILTER_STRING,
    entry_after,
    entry_token,
    filter_timestamp,
    oldest_first,
    read_clauses,
    time_comparison,
    unquoted,
)
from passbridge.graph.odata import collection, context_url, page_of
from passbridge.graph.shapes import audit_json
from passbridge.logs.audit import AuditService, require_may_read
from passbridge.logs.rules import AuditComparison, AuditFilter
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

PATH = "/auditLogs/directoryAudits"
FRAGMENT = "auditLogs/directoryAudits"

SUPPORTED = (
    "activityDateTime ge|le|gt|lt <timestamp>, activityDisplayName eq '<text>', category eq '<text>' "
    "and targetResources/any(t: t/id eq '<id>'), combined with 'and'"
)
_TIME = time_comparison("activityDateTime", "ge|le|gt|lt")
_EQ = re.compile(r"(activityDisplayName|category)\s+eq\s+" + FILTER_STRING, re.IGNORECASE)
_ANY = re.compile(
    r"targetResources/any\(\s*(\w+)\s*:\s*(\w+)/id\s+eq\s+" + FILTER_STRING + r"\s*\)", re.IGNORECASE
)


def parse_filter(text: str) -> AuditFilter:
    """The supported subset of $filter (graph/log_query.py); anything else is refused."""
    times: list[tuple[AuditComparison, datetime]] = []
    activities: list[str] = []
    categories: list[str] = []
    targets: list[str] = []

    def time(rest: str) -> re.Match[str] | None:
        if found := _TIME.match(rest):
            times.append((cast(AuditComparison, found.group(1).lower()), filter_timestamp(found.group(3))))
        return found

    def equals(rest: str) -> re.Match[str] | None:
        if found := _EQ.match(rest):
            is_activity = found.group(1).lower() == "activitydisplayname"
            (activities if is_activity else categories).append(unquoted(found.group(2)))
        return found

    def target(rest: str) -> re.Match[str] | None:
        found = _ANY.match(rest)
        if found is None or found.group(1) != found.group(2):  # the lambda's variable, used as such
            return None
        targets.append(unquoted(found.group(3)))
        return found

    read_clauses(text, SUPPORTED, (time, equals, target))
    return AuditFilter(tuple(times), tuple(activities), tuple(categories), tuple(targets))


@router.get(PATH)
async def list_audits(request: Request, who: Caller) -> dict[str, Any]:
    require_may_read(who)
    page = page_of(request, kind="directoryAudits")
    filter_text = request.query_params.get("$filter")
    wanted = parse_filter(filter_text) if filter_text is not None else AuditFilter()
    ascending = oldest_first(request, "activityDateTime")

    def work(tx: Tx, env: Env) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        found = AuditService(tx, env, who).search(
            wanted, after=entry_after(page), limit=page.top, oldest_first=ascending
        )
        return [audit_json(e) for e in found.entries], entry_token(found.next_after)

    items, next_after = await in_unit(request, work, readonly=True)
    return collection(request, FRAGMENT, items, page=page, next_after=next_after)


@router.get(PATH + "/{entry_id}")
async def get_audit(request: Request, entry_id: str, who: Caller) -> dict[str, Any]:
    entry = await in_unit(
        request, lambda s, e: audit_json(AuditService(s, e, who).get(entry_id)), readonly=True
    )
    return {"@odata.context": context_url(request, f"{FRAGMENT}/$entity"), **entry}
