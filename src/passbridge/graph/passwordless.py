"""Graph-compatible routes: a user's passkeys (`fido2Methods`) and authenticator apps (`softwareOathMethods`).

Reads and deletes, for administrators and applications under `/users/{id | userPrincipalName}` and for
the signed-in user under `/me` (delegated tokens only), as for Temporary Access Passes (graph/methods.py).
Registration happens in the security-info pages; Graph's beta POST of fido2Methods is not offered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from passbridge.graph.auth import established
from passbridge.graph.common import in_read, in_unit, is_beta
from passbridge.graph.method_shapes import fido2_json, oath_json
from passbridge.graph.methods import ME, USERS, _entity, _own_id
from passbridge.methods import passwordless as methods
from passbridge.methods.passwordless import PasswordlessMethodService
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

router = APIRouter()

Render = Callable[[Any, bool], dict[str, Any]]
Lister = Callable[[Tx, Env, Principal, str], Sequence[Any]]
Getter = Callable[[Tx, Env, Principal, str, str], Any]
Deleter = Callable[[PasswordlessMethodService, str, str], None]


async def _list(
    request: Request, user: str | None, path: str, lister: Lister, render: Render
) -> JSONResponse:
    who = established(request)
    user_id = _own_id(who) if user is None else user  # None: /me
    beta = is_beta(request)

    def work(tx: Tx, env: Env) -> list[dict[str, Any]]:
        return [render(m, beta) for m in lister(tx, env, who, user_id)]

    items = await in_read(request, work)
    return JSONResponse({"@odata.context": _entity(request, user_id, path, single=False), "value": items})


async def _get(
    request: Request, user: str | None, method_id: str, path: str, getter: Getter, render: Render
) -> JSONResponse:
    who = established(request)
    user_id = _own_id(who) if user is None else user  # None: /me
    beta = is_beta(request)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        return render(getter(tx, env, who, user_id, method_id), beta)

    data = await in_read(request, work)
    return JSONResponse({"@odata.context": _entity(request, user_id, path, single=True), **data})


async def _delete(request: Request, user: str | None, method_id: str, deleter: Deleter) -> Response:
    who = established(request)
    user_id = _own_id(who) if user is None else user  # None: /me

    def work(tx: Tx, env: Env) -> None:
        deleter(PasswordlessMethodService(tx, env, who), user_id, method_id)

    await in_unit(request, work)
    return Response(status_code=204)


# --- passkeys (fido2Methods) ----------------------------------------------------------------------

FIDO2 = "fido2Methods"


@router.get(f"{USERS}/{FIDO2}")
async def list_passkeys(request: Request, user_id: str) -> JSONResponse:
    return await _list(request, user_id, FIDO2, methods.list_passkeys, fido2_json)


@router.get(f"{USERS}/{FIDO2}/{{method_id}}")
async def get_passkey(request: Request, user_id: str, method_id: str) -> JSONResponse:
    return await _get(request, user_id, method_id, FIDO2, methods.get_passkey, fido2_json)


@router.delete(f"{USERS}/{FIDO2}/{{method_id}}", status_code=204)
async def delete_passkey(request: Request, user_id: str, method_id: str) -> Response:
    return await _delete(request, user_id, method_id, PasswordlessMethodService.delete_passkey)


@router.get(f"{ME}/{FIDO2}")
async def list_my_passkeys(request: Request) -> JSONResponse:
    return await _list(request, None, FIDO2, methods.list_passkeys, fido2_json)


@router.get(f"{ME}/{FIDO2}/{{method_id}}")
async def get_my_passkey(request: Request, method_id: str) -> JSONResponse:
    return await _get(request, None, method_id, FIDO2, methods.get_passkey, fido2_json)


@router.delete(f"{ME}/{FIDO2}/{{method_id}}", status_code=204)
async def delete_my_passkey(request: Request, method_id: str) -> Response:
    return await _delete(request, None, method_id, PasswordlessMethodService.delete_passkey)


# --- authenticator apps (softwareOathMethods) -----------------------------------------------------

OATH = "softwareOathMethods"


@router.get(f"{USERS}/{OATH}")
async def list_apps(request: Request, user_id: str) -> JSONResponse:
    return await _list(request, user_id, OATH, methods.list_apps, oath_json)


@router.get(f"{USERS}/{OATH}/{{method_id}}")
async def get_app(request: Request, user_id: str, method_id: str) -> JSONResponse:
    return await _get(request, user_id, method_id, OATH, methods.get_app, oath_json)


@router.delete(f"{USERS}/{OATH}/{{method_id}}", status_code=204)
async def delete_app(request: Request, user_id: str, method_id: str) -> Response:
    return await _delete(request, user_id, method_id, PasswordlessMethodService.delete_app)


@router.get(f"{ME}/{OATH}")
async def list_my_apps(request: Request) -> JSONResponse:
    return await _list(request, None, OATH, methods.list_apps, oath_json)


@router.get(f"{ME}/{OATH}/{{method_id}}")
async def get_my_app(request: Request, method_id: str) -> JSONResponse:
    return await _get(request, None, method_id, OATH, methods.get_app, oath_json)


@router.delete(f"{ME}/{OATH}/{{method_id}}", status_code=204)
async def delete_my_app(request: Request, method_id: str) -> Response:
    return await _delete(request, None, method_id, PasswordlessMethodService.delete_app)
