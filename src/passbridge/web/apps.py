"""Signed-in pages: "My apps", "Set up your sign-in methods", and signing out."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.passes.burn import is_bound
from passbridge.services import admin, portal
from passbridge.services.context import Env
from passbridge.signin.rules import CsrfMismatch
from passbridge.signin.sessions import SessionService, SessionView
from passbridge.store import runner
from passbridge.store.tx import Tx
from passbridge.web.pages import (
    SESSION_COOKIE,
    FormTooLarge,
    FormUnreadable,
    clear_session_cookie,
    cookie,
    current_session,
    env_of,
    page,
    read,
    read_form,
    see_other,
    tenant_name,
    to_login,
    too_large,
)

router = APIRouter(include_in_schema=False)
SIGNED_OUT = "/signed-out"


def signed_in_context(request: Request, view: SessionView, tenant: str) -> dict[str, Any]:
    """What the header of every signed-in page shows: who, and a sign-out form with its CSRF token."""
    return {
        "tenant": tenant,
        "user": view,
        "signout_csrf": SessionService(env_of(request)).csrf_token(view),
    }


@router.get("/")
async def home() -> Response:
    return see_other("/apps")


@router.get("/apps")
async def my_apps(request: Request) -> Response:
    view = await current_session(request)
    if view is None:
        return to_login(request)

    def work(tx: Tx, _env: Env) -> tuple[str, list[portal.AppLink], bool]:
        return portal.tenant_name(tx), portal.app_links(tx), admin.is_administrator(tx, view.user_id)

    tenant, apps, is_admin = await read(request, work)
    now = env_of(request).clock.now()
    set_up_only = is_bound(view)
    return page(
        "apps.html",
        # A session an enrol or recover pass began opens no application (passes/burn.py).
        apps=[] if set_up_only else apps,
        is_admin=is_admin and not set_up_only,
        set_up_only=set_up_only,
        register_by=view.register_by if view.register_by and view.register_by > now else None,
        **signed_in_context(request, view, tenant),
    )


@router.get("/setup-methods")
async def setup_methods(request: Request) -> Response:
    view = await current_session(request)
    if view is None:
        return to_login(request)
    wanted = request.query_params.get("return_to")
    tenant, return_to = await read(
        request,
        lambda tx, _env: (portal.tenant_name(tx), portal.checked_return_to(tx, wanted)),
    )
    now = env_of(request).clock.now()
    minutes_left = (
        max(0, math.ceil((view.register_by - now).total_seconds() / 60)) if view.register_by else None
    )
    return page(
        "setup.html",
        continue_to=return_to or "/apps",
        # The ways to set up carry the application sign-in along, so "Continue" there leads back into it.
        carry=f"?{urlencode({'return_to': return_to})}" if return_to else "",
        minutes_left=minutes_left,
        **signed_in_context(request, view, tenant),
    )


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        form = await read_form(request)
    except FormTooLarge:
        return await too_large(request)
    except FormUnreadable:
        form = {}
    view = await current_session(request)
    sessions = SessionService(env_of(request))
    if view is not None:
        if not sessions.check_csrf(view, form.get("csrf_token")):
            # A sign-out from another site's form: the session stays, so a link cannot sign people out.
            return page(
                "problem.html",
                status=400,
                tenant=await tenant_name(request),
                title="You're still signed in",
                message=CsrfMismatch().message,
                link_href="/apps",
                link_text="Back to My apps",
            )
        await runner.off_loop(sessions.end, cookie(request, SESSION_COOKIE))
    # A page of its own, reached by a redirect so that reloading it posts nothing: the username form
    # that used to follow looked the same as before signing in, and said nothing had happened.
    response = see_other(SIGNED_OUT)
    clear_session_cookie(request, response)
    return response


@router.get(SIGNED_OUT)
async def signed_out(request: Request) -> Response:
    if await current_session(request) is not None:
        # Opened by hand while a session is current: saying "signed out" would be untrue.
        return see_other("/apps")
    return page("signed_out.html", tenant=await tenant_name(request))
