"""Graph-compatible routes: `POST /users/{id | userPrincipalName}/revokeSignInSessions` and
`POST /me/revokeSignInSessions` (tokens/revocation.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from passbridge.graph.auth import established
from passbridge.graph.common import in_unit
from passbridge.graph.methods import _own_id
from passbridge.graph.odata import context_url
from passbridge.services.context import Env
from passbridge.store.tx import Tx
from passbridge.tokens.revocation import RevocationService

router = APIRouter()


async def _revoke(request: Request, user: str | None) -> JSONResponse:
    who = established(request)
    user_id = _own_id(who) if user is None else user  # None: /me

    def work(tx: Tx, env: Env) -> None:
        RevocationService(tx, env, who).revoke(user_id)

    await in_unit(request, work)
    # Graph answers 200 with an Edm.Boolean (its docs note a known issue with another code).
    return JSONResponse({"@odata.context": context_url(request, "Edm.Boolean"), "value": True})


@router.post("/users/{user_id}/revokeSignInSessions")
async def revoke_sign_in_sessions(request: Request, user_id: str) -> JSONResponse:
    return await _revoke(request, user_id)


@router.post("/me/revokeSignInSessions")
async def revoke_my_sign_in_sessions(request: Request) -> JSONResponse:
    return await _revoke(request, None)
