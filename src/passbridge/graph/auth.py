"""Who is calling a Graph endpoint: the bearer token, verified, as a Principal."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from passbridge.services.context import Env, Principal
from passbridge.services.tokens import TokenRejected, principal_from_token


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("Access token is empty.")
    return token.strip()


async def caller(request: Request) -> Principal:
    """FastAPI dependency for every Graph route."""
    token = _bearer(request)
    env: Env = request.app.state.env
    ip = request.client.host if request.client else None

    def verify() -> Principal:
        with env.db.unit_of_work(readonly=True) as session:
            return principal_from_token(session, env, token, ip_address=ip)

    return await run_in_threadpool(verify)
