"""Who is calling a Graph endpoint: the bearer token, verified, as a Principal."""

from __future__ import annotations

from fastapi import Request

from passbridge.graph.odata import refuse_unstorable_url
from passbridge.services.context import Env, Principal
from passbridge.store import runner
from passbridge.tokens.service import TokenRejected, principal_from_token, principal_without_store


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("Access token is empty.")
    return token.strip()


# Where `caller` leaves the principal for `established`, in the request's ASGI scope.
SCOPE_KEY = "passbridge.principal"


def established(request: Request) -> Principal:
    """The caller that `caller`, applied to every Graph route by graph/routes.py, established for this
    request. The busiest routes read it here instead of declaring `caller` a second time: FastAPI solves
    every declared dependency afresh, cached or not. Without the route dependency it fails closed."""
    principal = request.scope.get(SCOPE_KEY)
    if not isinstance(principal, Principal):
        raise TokenRejected("Access token is empty.")
    return principal


async def caller(request: Request) -> Principal:
    """FastAPI dependency for every Graph route."""
    principal = await verified_caller(request)
    request.scope[SCOPE_KEY] = principal
    return principal


async def verified_caller(request: Request) -> Principal:
    token = _bearer(request)
    refuse_unstorable_url(request)
    env: Env = request.app.state.env
    # The address ClientAddress resolved (behind a trusted proxy, the one it forwarded for).
    ip = request.client.host if request.client else None
    # A token this process verified recently needs neither the database nor a threadpool hop: the
    # check is a few dictionary lookups, cheap enough for the event loop (tokens/service.py says
    # what is relied on and for how long).
    known = principal_without_store(env, token, ip_address=ip)
    if known is not None:
        return known

    def verify() -> Principal:
        with env.db.transaction("read") as tx:
            return principal_from_token(tx, env, token, ip_address=ip)

    return await runner.read(env.db, verify)
