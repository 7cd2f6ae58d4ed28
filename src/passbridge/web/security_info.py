"""Security info: the signed-in user's own authentication methods (read-only until registration arrives)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.services import portal
from passbridge.web.apps import signed_in_context
from passbridge.web.pages import current_session, page, read, to_login

router = APIRouter(include_in_schema=False)

# Graph's methodUsabilityReason in words a person reads.
REASONS = {
    "EnabledByPolicy": "Ready to use",
    "DisabledByPolicy": "Turned off by your organisation",
    "Expired": "Expired",
    "NotYetValid": "Not valid yet",
    "OneTimeUsed": "Already used",
}


@router.get("/security-info")
async def security_info(request: Request) -> Response:
    view = await current_session(request)
    if view is None:
        return to_login(request)
    tenant, passes = await read(
        request, lambda session, env: (portal.tenant_name(session), portal.own_passes(session, env, view))
    )
    return page(
        "security_info.html",
        passes=passes,
        reasons=REASONS,
        **signed_in_context(request, view, tenant),
    )
