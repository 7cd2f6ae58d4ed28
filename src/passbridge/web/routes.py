"""Registers the pages, their stylesheet and the favicon on the application (none in /openapi.json)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from passbridge.fastpath.routing import add_routes
from passbridge.graph.errors import http_error_response
from passbridge.web import apps, notice, passwordless, recovery, security_info, signin
from passbridge.web.admin import approvals as admin_approvals
from passbridge.web.admin import apps as admin_apps
from passbridge.web.admin import bulk as admin_bulk
from passbridge.web.admin import issue as admin_issue
from passbridge.web.admin import joiner as admin_joiner
from passbridge.web.admin import logs as admin_logs
from passbridge.web.admin import mail as admin_mail
from passbridge.web.admin import passes as admin_passes
from passbridge.web.admin import passkey_profiles as admin_passkey_profiles
from passbridge.web.admin import policy as admin_policy
from passbridge.web.admin import provisioning as admin_provisioning
from passbridge.web.admin import recovery as admin_recovery
from passbridge.web.admin import users as admin_users
from passbridge.web.pages import STATIC_DIR, error_page, wants_page

_icons = APIRouter(include_in_schema=False)


@_icons.get("/favicon.ico")
async def favicon() -> Response:
    # Browsers ask for /favicon.ico whatever the page links; answering keeps their consoles clean.
    return FileResponse(
        STATIC_DIR / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def _routing_error(request: Request, exc: HTTPException) -> Response:
    """A browser that opens an address with no page, or one that takes only a form post, sees a page in
    the site's look; API callers keep their answer exactly as before (graph/errors.py)."""
    if exc.status_code in (404, 405) and wants_page(request):
        return await error_page(request, exc.status_code, headers=dict(exc.headers or {}))
    return http_error_response(request, exc)


def install(app: FastAPI) -> None:
    # Replaces graph/errors.py's handler for routing errors (installed before), which it falls back to.
    app.add_exception_handler(HTTPException, _routing_error)  # type: ignore[arg-type]
    routers = (signin.router, passwordless.router, apps.router, security_info.router, admin_users.router)
    admin = (
        admin_issue.router,
        admin_passes.router,
        admin_bulk.router,
        admin_approvals.router,
        admin_passkey_profiles.router,
        admin_policy.router,
        admin_apps.router,
        admin_provisioning.router,
        admin_joiner.router,
        admin_logs.router,
        admin_mail.router,
    )
    # The pass notices' "This wasn't me" link (passes/notices.py).
    for router in (*routers, *admin, notice.router, _icons):
        add_routes(app, router)
    # Self-service recovery: "Lost your device?", the manager's review link and the helpdesk's queue.
    for router in (recovery.router, admin_recovery.router):
        add_routes(app, router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
