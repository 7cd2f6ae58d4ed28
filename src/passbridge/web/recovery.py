"""Self-service recovery's public pages (recovery/service.py): "Lost your device?" (`/recover`), its one
answer for every name, and the manager's review page behind the mailed link.

The answer is the same page, with the same status, whatever the name, and it is not sent before
ANSWER_FLOOR has passed since the request arrived, so the work done for a real account (a request, audit,
mail) does not show in the time either. The form is bound to a cookie of its own (SameSite=Lax), so
another site cannot post it from a visitor's browser.

The review link's token is the only way to the request; the page it opens changes nothing on GET (mail
scanners follow links), and deciding needs the manager's own session, signed in with a passkey.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from passbridge.recovery import notices, service
from passbridge.recovery.rules import REQUEST_LIFETIME, RateLimited, State
from passbridge.recovery.service import Facts, NeedsPasskey
from passbridge.services import portal
from passbridge.signin.flow import SignInService
from passbridge.signin.rules import CsrfMismatch, FlowExpired
from passbridge.signin.sessions import SessionService, SessionView
from passbridge.store import runner
from passbridge.web.pages import (
    FLOW_COOKIE,
    FormTooLarge,
    FormUnreadable,
    client_ip,
    cookie,
    current_session,
    env_of,
    page,
    read_form,
    tenant_name,
    to_login,
    too_large,
)

router = APIRouter(include_in_schema=False)

FORM_COOKIE = "pb_recover"
_FORM_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
# Longer than the slowest real request's work (a few inserts, sealing a handful of mails) on a busy node.
ANSWER_FLOOR = 0.6
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def _form_token(request: Request, nonce: str) -> str:
    return env_of(request).keeper.keyed_hash(f"recover form|{nonce}")


def _form_page(
    request: Request,
    tenant: str,
    nonce: str,
    *,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    response = page(
        "recover.html",
        status=status,
        tenant=tenant,
        form_token=_form_token(request, nonce),
        username=username,
        error=error,
    )
    env = env_of(request)
    response.set_cookie(
        FORM_COOKIE,
        nonce,
        max_age=3600,
        path="/recover",
        secure=not env.settings.is_local or request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return response


def _nonce(request: Request) -> str | None:
    value = request.cookies.get(FORM_COOKIE)
    return value if value is not None and _FORM_NONCE.fullmatch(value) else None


async def _typed_at_sign_in(request: Request) -> str:
    """The username of the browser's open sign-in (from the pass page's link), to save typing it again."""
    flow_id = cookie(request, FLOW_COOKIE)
    if flow_id is None:
        return ""
    try:
        flow = await runner.off_loop(SignInService(env_of(request)).flow, flow_id)
    except (FlowExpired, CsrfMismatch):
        return ""
    return flow.username or ""


@router.get("/recover")
async def recover_page(request: Request) -> Response:
    username = await _typed_at_sign_in(request)
    return _form_page(
        request, await tenant_name(request), _nonce(request) or secrets.token_urlsafe(32), username=username
    )


@router.post("/recover")
async def recover_submit(request: Request) -> Response:
    started = time.monotonic()
    tenant = await tenant_name(request)
    try:
        form = await read_form(request)
    except FormTooLarge:
        return await too_large(request)
    except FormUnreadable:
        form = {}
    nonce = _nonce(request)
    username = form.get("username", "")
    if nonce is None or not env_of(request).keeper.keyed_hash_matches(
        f"recover form|{nonce}", form.get("form_token", "")
    ):
        return _form_page(
            request,
            tenant,
            secrets.token_urlsafe(32),
            username=username[:256],
            error=CsrfMismatch().message,
            status=400,
        )
    env = env_of(request)
    try:
        await runner.off_loop(lambda: service.request(env, username, ip=client_ip(request)))
    except InvalidInput as exc:
        return _form_page(request, tenant, nonce, username=username[:256], error=exc.message, status=400)
    except RateLimited as exc:
        await _floor(started)
        return _form_page(request, tenant, nonce, username=username[:256], error=exc.message, status=429)
    await _floor(started)
    hours = int(REQUEST_LIFETIME.total_seconds() // 3600)
    return page("recover_sent.html", tenant=tenant, username=username.strip(), hours=hours)


async def _floor(started: float) -> None:
    left = ANSWER_FLOOR - (time.monotonic() - started)
    if left > 0:
        await asyncio.sleep(left)


# --- the manager's review -------------------------------------------------------------------------


def _review(
    request: Request,
    tenant: str,
    token: str,
    facts: Facts | None,
    *,
    view: SessionView | None = None,
    status: int = 200,
    error: str | None = None,
    step_up: bool = False,
    done: bool = False,
) -> Response:
    here = notices.REVIEW_PATH + token
    return page(
        "recover_review.html",
        status=status,
        headers=NO_REFERRER,
        tenant=tenant,
        facts=facts,
        action=here,
        csrf_token=SessionService(env_of(request)).csrf_token(view) if view is not None else "",
        error=error,
        step_up=step_up,
        sign_in_again=f"/login?return_to={quote(here, safe='/')}",
        done=done,
    )


async def _look(request: Request, token: str) -> tuple[str, Facts | None]:
    env = env_of(request)

    def work() -> tuple[str, Facts | None]:
        with env.db.transaction("read") as tx:
            return portal.tenant_name(tx), service.look(tx, env, token)

    return await runner.off_loop(work)


@router.get(notices.REVIEW_PATH + "{token}")
async def review_page(request: Request, token: str) -> Response:
    tenant, facts = await _look(request, token)
    if facts is None:
        return _review(request, tenant, token, None, status=404)
    if facts.state is not State.OPEN:
        return _review(request, tenant, token, facts, status=410 if facts.state is State.EXPIRED else 200)
    view = await current_session(request)
    if view is None:
        return to_login(request)
    try:
        service.check_manager(facts, view)
    except NeedsPasskey as exc:
        return _review(request, tenant, token, facts, status=403, error=exc.message, step_up=True)
    except PermissionDenied as exc:
        return _review(request, tenant, token, facts, status=403, error=exc.message)
    return _review(request, tenant, token, facts, view=view)


@router.post(notices.REVIEW_PATH + "{token}")
async def review_decide(request: Request, token: str) -> Response:
    tenant = await tenant_name(request)
    view = await current_session(request)
    if view is None:
        return to_login(request)
    try:
        form = await read_form(request)
    except FormTooLarge:
        return await too_large(request)
    except FormUnreadable:
        form = {}
    env = env_of(request)
    if not SessionService(env).check_csrf(view, form.get("csrf_token")):
        _, facts = await _look(request, token)
        return _review(request, tenant, token, facts, view=view, status=400, error=CsrfMismatch().message)
    approve = form.get("decision") == "approve"
    ip = client_ip(request)

    def work() -> Facts:
        with env.db.transaction() as tx:
            return service.decide_by_link(tx, env, token, view, approve=approve, ip=ip)

    try:
        facts = await runner.off_loop(work)
    except NotFound:
        return _review(request, tenant, token, None, status=404)
    except DomainError as exc:
        _, facts_now = await _look(request, token)
        status = 400 if isinstance(exc, InvalidInput) else 403
        return _review(
            request,
            tenant,
            token,
            facts_now,
            view=view,
            status=status,
            error=exc.message,
            step_up=isinstance(exc, NeedsPasskey),
        )
    return _review(request, tenant, token, facts, done=facts.just_decided)
