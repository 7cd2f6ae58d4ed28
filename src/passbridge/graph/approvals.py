"""Passbridge extensions in Graph's shape, beta only (docs/dual-control.md): dual control for issuing passes.

`GET`/`PATCH /passbridge/temporaryAccessPassApprovalPolicy` (its settings) and
`/passbridge/temporaryAccessPassRequests` (list, `$filter=state eq 'pending'`), `/{id}`, and the actions
`/{id}/approve`, `/deny`, `/cancel` and `/issue` (the requester collects the approved pass: 201 with the
temporaryAccessPassAuthenticationMethod and its value, once). A POST to a user's temporaryAccessPassMethods
that needs approval answers 202 Accepted with the request (`accepted_json`). Graph has no such resources.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StrictStr

from passbridge.clock import iso_z
from passbridge.domain.errors import DomainError, PermissionDenied
from passbridge.graph.auth import established
from passbridge.graph.body import parse
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.odata import context_url
from passbridge.graph.shapes import tap_json
from passbridge.passes.approval import ApprovalService, expire_due
from passbridge.passes.approval_rules import ApprovalSettings, RequestClosed, RequestView, State, state_of
from passbridge.services.context import Env
from passbridge.store.tx import Tx

router = APIRouter()
POLICY = "/passbridge/temporaryAccessPassApprovalPolicy"
REQUESTS = "/passbridge/temporaryAccessPassRequests"
REQUEST_TYPE = "#microsoft.graph.passbridge.temporaryAccessPassRequest"
STATE_FILTER = re.compile(r"^\s*state\s+eq\s+'([A-Za-z]+)'\s*$")


class PolicyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    isEnabled: bool | None = None
    forRoleHolders: bool | None = None
    lifetimeThresholdMinutes: int | None = None
    requestExpiryMinutes: int | None = None
    collectWithinMinutes: int | None = None


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: StrictStr | None = None


def _policy_json(request: Request, value: ApprovalSettings, modified: Any) -> dict[str, Any]:
    return {
        "@odata.context": context_url(request, "passbridge/temporaryAccessPassApprovalPolicy/$entity"),
        "isEnabled": value.enabled,
        "forRoleHolders": value.for_role_holders,
        "lifetimeThresholdMinutes": value.lifetime_threshold_minutes,
        "requestExpiryMinutes": value.request_expiry_minutes,
        "collectWithinMinutes": value.collect_within_minutes,
        "lastModifiedDateTime": iso_z(modified),
    }


def request_json(view: RequestView) -> dict[str, Any]:
    """A request. Its terms carry the temporaryAccessPassAuthenticationMethod's names, so a Graph SDK that
    reads a 202 from POST temporaryAccessPassMethods as that type finds them; the rest is additionalData."""
    return {
        "@odata.type": REQUEST_TYPE,
        "id": view.id,
        "state": view.state.value,
        "userId": view.user_id,
        "userPrincipalName": view.user_principal_name,
        "userDisplayName": view.user_display_name,
        "requestedBy": {
            "kind": view.requester_kind,
            "id": view.requester_id,
            "displayName": view.requester_name,
        },
        "startDateTime": iso_z(view.start_at),
        "lifetimeInMinutes": view.lifetime_minutes,
        "isUsableOnce": view.is_usable_once,
        "reason": view.reason,
        "purpose": view.purpose,
        "approvalReason": view.why,
        "createdDateTime": iso_z(view.created_at),
        "expirationDateTime": iso_z(view.expires_at),
        "decidedDateTime": iso_z(view.decided_at),
        "decidedBy": None
        if view.approver_name is None
        else {"id": view.approver_id, "displayName": view.approver_name},
        "decisionNote": view.decision_note,
        "collectByDateTime": iso_z(view.collect_by),
        "issuedDateTime": iso_z(view.issued_at),
        "temporaryAccessPassMethodId": view.pass_id,
    }


def request_location(request: Request, request_id: str) -> str:
    return f"{request.app.state.env.settings.base_url}/beta{REQUESTS}/{request_id}"


def accepted_json(request: Request, view: RequestView) -> JSONResponse:
    """The answer to a pass that awaits approval: 202 Accepted, the request, and where to follow it."""
    body = {"@odata.context": _entity_context(request), **request_json(view)}
    return JSONResponse(body, status_code=202, headers={"Location": request_location(request, view.id)})


def _entity_context(request: Request) -> str:
    base = request.app.state.env.settings.base_url
    return f"{base}/beta/$metadata#passbridge/temporaryAccessPassRequests/$entity"


async def _act(request: Request, work: Any, *, readonly: bool = False) -> Any:
    """Dual control's refusals in Graph's shape: the requester deciding, or the wrong person collecting,
    is 403 accessDenied; a request already decided, collected, cancelled or expired is 409 (it still
    exists and says its state, so 410 Gone would mislead)."""
    try:
        if not readonly:
            await in_unit(request, expire_due)
        return await in_unit(request, work, readonly=readonly)
    except RequestClosed as exc:
        code = "requestExpired" if exc.state is State.EXPIRED else "requestAlreadyDecided"
        raise GraphError(409, code, exc.message) from None
    except PermissionDenied as exc:
        raise GraphError(403, "accessDenied", exc.message) from None


@router.get(POLICY)
async def get_policy(request: Request) -> dict[str, Any]:
    who = established(request)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        value, modified = ApprovalService(tx, env, who).settings()
        return _policy_json(request, value, modified)

    result: dict[str, Any] = await _act(request, work, readonly=True)
    return result


@router.patch(POLICY)
async def patch_policy(request: Request) -> Response:
    who = established(request)
    body = await parse(request, PolicyPatch)
    names = {
        "isEnabled": "enabled",
        "forRoleHolders": "for_role_holders",
        "lifetimeThresholdMinutes": "lifetime_threshold_minutes",
        "requestExpiryMinutes": "request_expiry_minutes",
        "collectWithinMinutes": "collect_within_minutes",
    }
    changes = {names[k]: v for k, v in body.model_dump(exclude_unset=True).items()}
    for required in ("enabled", "for_role_holders", "request_expiry_minutes", "collect_within_minutes"):
        if required in changes and changes[required] is None:
            raise GraphError(
                400, "badRequest", f"Invalid value for property '{required}': it cannot be null."
            )

    def work(tx: Tx, env: Env) -> None:
        ApprovalService(tx, env, who).set_settings(**changes)

    await _act(request, work)
    return Response(status_code=204)


@router.get(REQUESTS)
async def list_requests(request: Request) -> dict[str, Any]:
    who = established(request)
    text = request.query_params.get("$filter")
    wanted: State | None = None
    if text is not None:
        matched = STATE_FILTER.match(text)
        if matched is None:
            raise GraphError(400, "badRequest", "Only $filter=state eq '<state>' is supported here.")
        try:
            wanted = state_of(matched.group(1))
        except DomainError as exc:
            raise GraphError(400, "badRequest", exc.message) from None

    def work(tx: Tx, env: Env) -> list[dict[str, Any]]:
        return [request_json(v) for v in ApprovalService(tx, env, who).list(wanted)]

    items: list[dict[str, Any]] = await _act(request, work, readonly=True)
    return {"@odata.context": context_url(request, "passbridge/temporaryAccessPassRequests"), "value": items}


@router.get(f"{REQUESTS}/{{request_id}}")
async def get_request(request: Request, request_id: str) -> dict[str, Any]:
    who = established(request)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        return request_json(ApprovalService(tx, env, who).get(request_id))

    data: dict[str, Any] = await _act(request, work, readonly=True)
    return {"@odata.context": _entity_context(request), **data}


async def _decide(request: Request, request_id: str, verb: str) -> dict[str, Any]:
    who = established(request)
    body = await parse(request, DecisionBody)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        service = ApprovalService(tx, env, who)
        view = (
            service.approve(request_id, body.note)
            if verb == "approve"
            else service.deny(request_id, body.note)
        )
        return request_json(view)

    data: dict[str, Any] = await _act(request, work)
    return {"@odata.context": _entity_context(request), **data}


@router.post(f"{REQUESTS}/{{request_id}}/approve")
async def approve_request(request: Request, request_id: str) -> dict[str, Any]:
    return await _decide(request, request_id, "approve")


@router.post(f"{REQUESTS}/{{request_id}}/deny")
async def deny_request(request: Request, request_id: str) -> dict[str, Any]:
    return await _decide(request, request_id, "deny")


@router.post(f"{REQUESTS}/{{request_id}}/cancel")
async def cancel_request(request: Request, request_id: str) -> dict[str, Any]:
    who = established(request)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        return request_json(ApprovalService(tx, env, who).cancel(request_id))

    data: dict[str, Any] = await _act(request, work)
    return {"@odata.context": _entity_context(request), **data}


@router.post(f"{REQUESTS}/{{request_id}}/issue", status_code=201)
async def collect_request(request: Request, request_id: str) -> JSONResponse:
    who = established(request)

    def work(tx: Tx, env: Env) -> tuple[str, dict[str, Any]]:
        issued, _ = ApprovalService(tx, env, who).collect(request_id)
        return issued.view.row.user_id, tap_json(issued.view, value=issued.value, beta=True)

    owner, data = await _act(request, work)
    base = request.app.state.env.settings.base_url
    location = f"{base}/beta/users/{owner}/authentication/temporaryAccessPassMethods/{data['id']}"
    context = context_url(request, f"users('{owner}')/authentication/temporaryAccessPassMethods/$entity")
    return JSONResponse({"@odata.context": context, **data}, status_code=201, headers={"Location": location})
