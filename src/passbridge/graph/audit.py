"""Graph-compatible routes: the directory audit log, with the $filter subset Passbridge supports."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from passbridge.graph.auth import caller
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.odata import (
    FILTER_AND,
    FILTER_STRING,
    collection,
    context_url,
    filter_timestamp,
    page_of,
    time_comparison,
    unsupported_filter,
)
from passbridge.graph.shapes import audit_json
from passbridge.services.audit import AuditService, require_may_read
from passbridge.services.context import Env, Principal
from passbridge.store.audit import AuditFilter, Comparison

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

PATH = "/auditLogs/directoryAudits"
FRAGMENT = "auditLogs/directoryAudits"

SUPPORTED = (
    "activityDateTime ge|le|gt|lt <timestamp>, activityDisplayName eq '<text>', category eq '<text>' "
    "and targetResources/any(t: t/id eq '<id>'), combined with 'and'"
)
_STRING = FILTER_STRING
_TIME = time_comparison("activityDateTime", "ge|le|gt|lt")
_EQ = re.compile(r"(activityDisplayName|category)\s+eq\s+" + _STRING, re.IGNORECASE)
_ANY = re.compile(r"targetResources/any\(\s*(\w+)\s*:\s*(\w+)/id\s+eq\s+" + _STRING + r"\s*\)", re.IGNORECASE)
_AND = FILTER_AND


def _unsupported(text: str) -> GraphError:
    return unsupported_filter(text, SUPPORTED)


def parse_filter(text: str) -> AuditFilter:
    """Read the supported subset of OData $filter; anything else is refused, never ignored,
    because a silently dropped condition would return entries the caller did not ask for."""
    times: list[tuple[Comparison, datetime]] = []
    activities: list[str] = []
    categories: list[str] = []
    targets: list[str] = []
    rest = text.strip()
    if not rest:
        raise GraphError(400, "badRequest", f"$filter is empty. Supported: {SUPPORTED}.")
    while True:
        if found := _TIME.match(rest):
            times.append((cast(Comparison, found.group(1).lower()), filter_timestamp(found.group(3))))
        elif found := _EQ.match(rest):
            value = found.group(2).replace("''", "'")
            (activities if found.group(1).lower() == "activitydisplayname" else categories).append(value)
        elif (found := _ANY.match(rest)) and found.group(1) == found.group(2):
            targets.append(found.group(3).replace("''", "'"))
        else:
            raise _unsupported(rest)
        rest = rest[found.end() :]
        if not rest.strip():
            break
        joiner = _AND.match(rest)
        if joiner is None:
            raise _unsupported(rest.strip())
        rest = rest[joiner.end() :]
    return AuditFilter(tuple(times), tuple(activities), tuple(categories), tuple(targets))


def _order(request: Request) -> bool:
    """Whether the caller asked for oldest first; newest first is the default."""
    text = request.query_params.get("$orderby")
    if text is None:
        return False
    wanted = " ".join(text.split()).casefold()
    if wanted in ("activitydatetime desc",):
        return False
    if wanted in ("activitydatetime", "activitydatetime asc"):
        return True
    raise GraphError(
        400, "badRequest", f"Unsupported $orderby '{text}'. Supported: activityDateTime asc|desc."
    )


@router.get(PATH)
async def list_audits(request: Request, who: Caller) -> dict[str, Any]:
    require_may_read(who)
    page = page_of(request)
    filter_text = request.query_params.get("$filter")
    wanted = parse_filter(filter_text) if filter_text is not None else AuditFilter()
    oldest_first = _order(request)

    def work(session: Session, env: Env) -> tuple[list[dict[str, Any]], bool]:
        found = AuditService(session, env, who).search(
            wanted, offset=page.offset, limit=page.top, oldest_first=oldest_first
        )
        return [audit_json(e) for e in found.entries], found.has_more

    items, has_more = await in_unit(request, work, readonly=True)
    return collection(request, FRAGMENT, items, page=page, has_more=has_more)


@router.get(PATH + "/{entry_id}")
async def get_audit(request: Request, entry_id: str, who: Caller) -> dict[str, Any]:
    entry = await in_unit(
        request, lambda s, e: audit_json(AuditService(s, e, who).get(entry_id)), readonly=True
    )
    return {"@odata.context": context_url(request, f"{FRAGMENT}/$entity"), **entry}
