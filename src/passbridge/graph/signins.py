"""Graph-compatible routes: the sign-in log (`/auditLogs/signIns`), with the $filter subset Passbridge
supports. Shaped as Graph documents the signIn resource: /beta adds authenticationDetails and
authenticationRequirement, which v1.0 does not document."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request

from passbridge.clock import iso_z
from passbridge.graph.auth import caller
from passbridge.graph.common import in_unit, is_beta
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
from passbridge.logs.audit import require_may_read
from passbridge.logs.rules import SignInComparison, SignInFilter
from passbridge.logs.signin_log import SignInLogService
from passbridge.services.context import Env, Principal
from passbridge.store.models import SignInLogEntry
from passbridge.store.tx import Tx

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

PATH = "/auditLogs/signIns"
FRAGMENT = "auditLogs/signIns"

SUPPORTED = (
    "createdDateTime eq|ge|le|gt|lt <timestamp>, userPrincipalName eq '<upn>', userId eq '<id>', "
    "appId eq '<id>' and status/errorCode eq <number>, combined with 'and'"
)
_TIME = time_comparison("createdDateTime", "eq|ge|le|gt|lt")
_EQ = re.compile(r"(userPrincipalName|userId|appId)\s+eq\s+" + FILTER_STRING, re.IGNORECASE)
_CODE = re.compile(r"status/errorCode\s+eq\s+(\d{1,9})(?![\w.])", re.IGNORECASE)


def parse_filter(text: str) -> SignInFilter:
    """The supported subset of $filter (graph/log_query.py); anything else is refused."""
    times: list[tuple[SignInComparison, datetime]] = []
    names: list[str] = []
    user_ids: list[str] = []
    app_ids: list[str] = []
    codes: list[int] = []

    def time(rest: str) -> re.Match[str] | None:
        if found := _TIME.match(rest):
            times.append((cast(SignInComparison, found.group(1).lower()), filter_timestamp(found.group(3))))
        return found

    def equals(rest: str) -> re.Match[str] | None:
        if found := _EQ.match(rest):
            value, field = unquoted(found.group(2)), found.group(1).lower()
            if field == "userprincipalname":
                names.append(value)
            else:
                # Ids are GUIDs, stored in lower case; Graph compares GUIDs without regard to case.
                (user_ids if field == "userid" else app_ids).append(value.lower())
        return found

    def code(rest: str) -> re.Match[str] | None:
        if found := _CODE.match(rest):
            codes.append(int(found.group(1)))
        return found

    read_clauses(text, SUPPORTED, (time, equals, code))
    return SignInFilter(tuple(times), tuple(names), tuple(user_ids), tuple(app_ids), tuple(codes))


def sign_in_json(entry: SignInLogEntry, *, beta: bool) -> dict[str, Any]:
    """One entry in Graph's signIn shape. Passbridge has no risk detection, Conditional Access, device
    registration or geolocation, so those properties say so in Graph's own words ("none",
    "notApplied") or stay empty, rather than being left out, which typed clients would trip on."""
    body: dict[str, Any] = {
        "id": entry.id,
        "createdDateTime": iso_z(entry.created_at),
        "userDisplayName": entry.user_display_name,
        "userPrincipalName": entry.user_principal_name,
        "userId": entry.user_id,
        "appId": entry.app_id,
        "appDisplayName": entry.app_display_name,
        "ipAddress": entry.ip_address,
        "clientAppUsed": entry.client_app_used,
        "correlationId": entry.correlation_id,
        "conditionalAccessStatus": "notApplied",
        "isInteractive": entry.is_interactive,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        # A user signing in to an application signs in to that application: it is its own resource.
        "resourceDisplayName": entry.app_display_name,
        "resourceId": entry.app_id,
        "status": {
            "errorCode": entry.error_code,
            "failureReason": entry.failure_reason,
            "additionalDetails": None,
        },
        "deviceDetail": {
            "deviceId": "",
            "displayName": "",
            "operatingSystem": "",
            "browser": "",
            "isCompliant": False,
            "isManaged": False,
            "trustType": "",
        },
        "location": {
            "city": None,
            "state": None,
            "countryOrRegion": None,
            "geoCoordinates": {"altitude": None, "latitude": None, "longitude": None},
        },
        "appliedConditionalAccessPolicies": [],
    }
    if beta:
        body["authenticationRequirement"] = entry.authentication_requirement
        body["authenticationDetails"] = entry.authentication_details
    return body


@router.get(PATH)
async def list_sign_ins(request: Request, who: Caller) -> dict[str, Any]:
    require_may_read(who)
    page = page_of(request, kind="signIns")
    filter_text = request.query_params.get("$filter")
    wanted = parse_filter(filter_text) if filter_text is not None else SignInFilter()
    ascending = oldest_first(request, "createdDateTime")
    beta = is_beta(request)

    def work(tx: Tx, env: Env) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        found = SignInLogService(tx, env, who).search(
            wanted, after=entry_after(page), limit=page.top, oldest_first=ascending
        )
        return [sign_in_json(e, beta=beta) for e in found.entries], entry_token(found.next_after)

    items, next_after = await in_unit(request, work, readonly=True)
    return collection(request, FRAGMENT, items, page=page, next_after=next_after)


@router.get(PATH + "/{entry_id}")
async def get_sign_in(request: Request, entry_id: str, who: Caller) -> dict[str, Any]:
    beta = is_beta(request)
    entry = await in_unit(
        request,
        lambda s, e: sign_in_json(SignInLogService(s, e, who).get(entry_id), beta=beta),
        readonly=True,
    )
    return {"@odata.context": context_url(request, f"{FRAGMENT}/$entity"), **entry}
