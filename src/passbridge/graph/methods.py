"""Graph-compatible routes: a user's authentication methods and Temporary Access Pass methods.

`/users/{id | userPrincipalName}/authentication/...` for administrators and applications;
`/me/authentication/...` for a signed-in user (delegated tokens only), who may read their own
methods and delete their own pass but never create one. Passkeys and authenticator apps have their
own routes in graph/passwordless.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StrictInt, StrictStr

from passbridge.graph.approvals import accepted_json
from passbridge.graph.auth import established
from passbridge.graph.body import parse
from passbridge.graph.common import in_read, in_unit, is_beta
from passbridge.graph.errors import GraphError
from passbridge.graph.method_shapes import fido2_json, oath_json
from passbridge.graph.odata import context_url
from passbridge.graph.openapi import body
from passbridge.graph.shapes import tap_json
from passbridge.methods.reads import AppSummary, PasskeySummary
from passbridge.methods.service import MethodsService, MethodView
from passbridge.passes import service as taps
from passbridge.passes.approval import ApprovalService
from passbridge.passes.approval_rules import RequestView
from passbridge.passes.rules import PassRequest, purpose_of
from passbridge.passes.service import PassView, TapService
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

router = APIRouter()

TAP_TYPES = (
    "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    "#microsoft.graph.authenticationMethod",
)
USERS = "/users/{user_id}/authentication"
ME = "/me/authentication"

# One renderer per method kind; methods/service.py lists the kinds in the same order.
RENDERERS: dict[type[Any], Callable[[Any, bool], dict[str, Any]]] = {
    PassView: lambda view, beta: tap_json(view, beta=beta),
    PasskeySummary: fido2_json,
    AppSummary: oath_json,
}


def _timestamp(value: object) -> datetime | None:
    """Graph's DateTimeOffset: an ISO 8601 string; one without an offset is read as UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 timestamp such as 2026-01-01T09:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO 8601 timestamp such as 2026-01-01T09:00:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# Graph's DateTimeOffset property, optional (also graph/bulk.py's batches).
Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]


class PassBody(BaseModel):
    """The create body: every property optional; anything else is refused."""

    model_config = ConfigDict(extra="forbid")

    startDateTime: Timestamp = None
    lifetimeInMinutes: StrictInt | None = None
    isUsableOnce: StrictBool | None = None
    # A Passbridge extension (docs/graph-compat.md): why the pass is issued, for the audit entry and the
    # holder's notice. Graph's SDKs send it through additionalData; clients that do not are unaffected.
    reason: StrictStr | None = None
    # A Passbridge extension (docs/purpose-bound-passes.md): signIn (Graph's pass), enrol or recover.
    purpose: StrictStr | None = None


def _own_id(who: Principal) -> str:
    if who.kind != "user" or who.id is None:
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    return who.id


def _entity(request: Request, user_segment: str, path: str, *, single: bool) -> str:
    fragment = f"users('{quote(user_segment, safe='')}')/authentication/{path}"
    return context_url(request, fragment + ("/$entity" if single else ""))


def _method_json(method: MethodView, beta: bool) -> dict[str, Any]:
    return RENDERERS[type(method)](method, beta)


# --- every method ------------------------------------------------------------------------------


async def _list_methods(request: Request, who: Principal, user_id: str) -> JSONResponse:
    beta = is_beta(request)

    def work(tx: Tx, env: Env) -> list[dict[str, Any]]:
        return [_method_json(m, beta) for m in MethodsService(tx, env, who).list(user_id)]

    items = await in_read(request, work)
    return JSONResponse(
        {"@odata.context": _entity(request, user_id, "methods", single=False), "value": items}
    )


async def _get_method(request: Request, who: Principal, user_id: str, method_id: str) -> JSONResponse:
    beta = is_beta(request)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        return _method_json(MethodsService(tx, env, who).get(user_id, method_id), beta)

    data = await in_read(request, work)
    return JSONResponse({"@odata.context": _entity(request, user_id, "methods", single=True), **data})


@router.get(f"{USERS}/methods")
async def list_methods(request: Request, user_id: str) -> JSONResponse:
    who = established(request)
    return await _list_methods(request, who, user_id)


@router.get(f"{USERS}/methods/{{method_id}}")
async def get_method(request: Request, user_id: str, method_id: str) -> JSONResponse:
    who = established(request)
    return await _get_method(request, who, user_id, method_id)


@router.get(f"{ME}/methods")
async def list_my_methods(request: Request) -> JSONResponse:
    who = established(request)
    return await _list_methods(request, who, _own_id(who))


@router.get(f"{ME}/methods/{{method_id}}")
async def get_my_method(request: Request, method_id: str) -> JSONResponse:
    who = established(request)
    return await _get_method(request, who, _own_id(who), method_id)


# --- Temporary Access Pass methods -------------------------------------------------------------


@router.post(
    f"{USERS}/temporaryAccessPassMethods", status_code=201, openapi_extra=body(PassBody, required=False)
)
async def create_pass(request: Request, user_id: str) -> JSONResponse:
    who = established(request)
    body = await parse(request, PassBody, accepted_types=TAP_TYPES)
    beta = is_beta(request)

    def work(tx: Tx, env: Env) -> tuple[str, dict[str, Any]] | RequestView:
        wanted = PassRequest(
            body.startDateTime,
            body.lifetimeInMinutes,
            body.isUsableOnce,
            body.reason,
            purpose_of(body.purpose),
        )
        issued = ApprovalService(tx, env, who).issue_or_request(user_id, wanted)
        if isinstance(issued, RequestView):
            return issued  # dual control: awaiting a second administrator (graph/approvals.py)
        return issued.view.row.user_id, tap_json(issued.view, value=issued.value, beta=beta)

    done = await in_unit(request, work)
    if isinstance(done, RequestView):
        return accepted_json(request, done)
    owner, data = done
    version = request.url.path.split("/")[1]
    base = request.app.state.env.settings.base_url
    location = f"{base}/{version}/users/{owner}/authentication/temporaryAccessPassMethods/{data['id']}"
    context = _entity(request, user_id, "temporaryAccessPassMethods", single=True)
    return JSONResponse({"@odata.context": context, **data}, status_code=201, headers={"Location": location})


async def _list_passes(request: Request, who: Principal, user_id: str) -> JSONResponse:
    beta = is_beta(request)

    def work(tx: Tx, env: Env) -> list[dict[str, Any]]:
        return [tap_json(v, beta=beta) for v in taps.list_passes(tx, env, who, user_id)]

    items = await in_read(request, work)
    context = _entity(request, user_id, "temporaryAccessPassMethods", single=False)
    return JSONResponse({"@odata.context": context, "value": items})


async def _get_pass(request: Request, who: Principal, user_id: str, method_id: str) -> JSONResponse:
    beta = is_beta(request)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        return tap_json(taps.get_pass(tx, env, who, user_id, method_id), beta=beta)

    data = await in_read(request, work)
    context = _entity(request, user_id, "temporaryAccessPassMethods", single=True)
    return JSONResponse({"@odata.context": context, **data})


async def _delete_pass(request: Request, who: Principal, user_id: str, method_id: str) -> Response:
    def work(tx: Tx, env: Env) -> None:
        TapService(tx, env, who).delete(user_id, method_id)

    await in_unit(request, work)
    return Response(status_code=204)


@router.get(f"{USERS}/temporaryAccessPassMethods")
async def list_passes(request: Request, user_id: str) -> JSONResponse:
    who = established(request)
    return await _list_passes(request, who, user_id)


@router.get(f"{USERS}/temporaryAccessPassMethods/{{method_id}}")
async def get_pass(request: Request, user_id: str, method_id: str) -> JSONResponse:
    who = established(request)
    return await _get_pass(request, who, user_id, method_id)


@router.delete(f"{USERS}/temporaryAccessPassMethods/{{method_id}}", status_code=204)
async def delete_pass(request: Request, user_id: str, method_id: str) -> Response:
    who = established(request)
    return await _delete_pass(request, who, user_id, method_id)


@router.get(f"{ME}/temporaryAccessPassMethods")
async def list_my_passes(request: Request) -> JSONResponse:
    who = established(request)
    return await _list_passes(request, who, _own_id(who))


@router.get(f"{ME}/temporaryAccessPassMethods/{{method_id}}")
async def get_my_pass(request: Request, method_id: str) -> JSONResponse:
    who = established(request)
    return await _get_pass(request, who, _own_id(who), method_id)


@router.delete(f"{ME}/temporaryAccessPassMethods/{{method_id}}", status_code=204)
async def delete_my_pass(request: Request, method_id: str) -> Response:
    who = established(request)
    return await _delete_pass(request, who, _own_id(who), method_id)
