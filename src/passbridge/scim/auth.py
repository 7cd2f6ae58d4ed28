"""Who is calling /scim/v2: a provisioning token, or an access token Passbridge issued (an application
granted User.ReadWrite.All and Group.ReadWrite.All; the services check the permissions each call needs)."""

from __future__ import annotations

from fastapi import Request

from passbridge.scim import tokens
from passbridge.scim.errors import ScimError
from passbridge.services.context import Env, Principal
from passbridge.store import runner
from passbridge.tokens.service import TokenRejected, principal_from_token, principal_without_store


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ScimError(401, "A bearer token is required: a provisioning token or an access token.")
    return token.strip()


async def caller(request: Request) -> Principal:
    token = _bearer(request)
    env: Env = request.app.state.env
    ip = request.client.host if request.client else None
    if tokens.is_provisioning_token(token):

        def check() -> Principal | None:
            with env.db.transaction("write") as tx:
                return tokens.authenticate(tx, env, token, ip)

        principal = await runner.off_loop(check)
        if principal is None:
            raise ScimError(401, "The provisioning token is unknown or revoked.")
        return principal
    known = principal_without_store(env, token, ip_address=ip)
    if known is not None:
        return known

    def verify() -> Principal:
        with env.db.transaction("read") as tx:
            return principal_from_token(tx, env, token, ip_address=ip)

    try:
        return await runner.read(env.db, verify)
    except TokenRejected as exc:
        raise ScimError(401, exc.message) from None
