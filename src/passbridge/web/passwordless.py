"""Sign-in pages for passkeys and authenticator-app codes, beside the pass (web/signin.py).

"Sign in with a passkey" sits on the username page and on the page after it, for everyone alike: the
pages never say which accounts hold which methods. The script (static/passkeys.js) fetches the request
options for the browser's flow, asks the browser for a passkey, and posts the answer here; a code is a
plain form. Failures show one message per method, never which part was wrong.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from passbridge.signin.flow import FlowView, SignInService
from passbridge.signin.rules import CsrfMismatch, FlowExpired, FlowState, LockedOut, SignInFailed
from passbridge.signin.strategies import Code, Passkey
from passbridge.store import runner
from passbridge.web.pages import (
    DEVICE_COOKIE,
    FLOW_COOKIE,
    SESSION_COOKIE,
    FormTooLarge,
    FormUnreadable,
    client_ip,
    cookie,
    env_of,
    page,
    read_form,
    see_other,
    tenant_name,
    too_large,
)
from passbridge.web.signin import (
    pass_page_response,
    retry_after,
    signed_in,
    start_again,
    username_page_response,
)

router = APIRouter(include_in_schema=False)

PASSKEY_FAILED = "That passkey didn't work. Try again, or use another way to sign in."
CODE_FAILED = "That code didn't work. Enter the 6-digit code your authenticator app shows now."


def _service(request: Request) -> SignInService:
    return SignInService(env_of(request))


async def _form(request: Request) -> dict[str, str] | Response:
    try:
        return await read_form(request)
    except FormTooLarge:
        return await too_large(request)
    except FormUnreadable:
        return await start_again(request, CsrfMismatch().message)


@router.post("/login/passkey/options")
async def passkey_options(request: Request) -> Response:
    form = await _form(request)
    if isinstance(form, Response):
        return form
    call = partial(
        _service(request).passkey_options,
        cookie(request, FLOW_COOKIE),
        form.get("csrf_token"),
        return_to=form.get("return_to"),
    )
    try:
        started = await runner.off_loop(call)
    except (FlowExpired, CsrfMismatch) as exc:
        return JSONResponse({"error": exc.message, "location": "/login"}, status_code=400)
    return JSONResponse(
        {"ceremonyId": started.ceremony_id, "publicKey": started.options},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/login/passkey")
async def passkey_submit(request: Request) -> Response:
    form = await _form(request)
    if isinstance(form, Response):
        return form
    flow_id = cookie(request, FLOW_COOKIE)
    prove = partial(
        _service(request).prove,
        flow_id,
        form.get("csrf_token"),
        Passkey(form.get("ceremony_id", ""), form.get("credential", "")),
        ip_address=client_ip(request),
        previous_session_cookie=cookie(request, SESSION_COOKIE),
        device_cookie=cookie(request, DEVICE_COOKIE),
    )
    try:
        signed = await runner.off_loop(prove)
    except (FlowExpired, CsrfMismatch) as exc:
        return await start_again(request, exc.message)
    except SignInFailed:
        return await _back_to_login(request, flow_id, PASSKEY_FAILED, 401)
    return signed_in(request, signed)


async def _back_to_login(request: Request, flow_id: str | None, message: str, status: int) -> Response:
    """The page the passkey was tried from, with the message: the username page, or the one after."""
    try:
        flow = await runner.off_loop(_service(request).flow, flow_id)
    except FlowExpired as expired:
        return await start_again(request, expired.message)
    tenant = await tenant_name(request)
    if flow.state == FlowState.PROVE:
        return pass_page_response(tenant, flow, status=status, passkey_error=message)
    return username_page_response(tenant, flow, status=status, passkey_error=message)


def _code_page(
    tenant: str, flow: FlowView, *, status: int = 200, error: str | None = None, **extra: str
) -> Response:
    return page(
        "code.html",
        status=status,
        headers=extra or None,
        tenant=tenant,
        csrf_token=flow.csrf_token,
        username=flow.username or "",
        error=error,
    )


@router.get("/login/code")
async def code_page(request: Request) -> Response:
    flow_id = cookie(request, FLOW_COOKIE)
    if not flow_id:
        return see_other("/login")
    try:
        flow = await runner.off_loop(_service(request).flow, flow_id)
    except FlowExpired as exc:
        return await start_again(request, exc.message)
    if flow.state != FlowState.PROVE:
        return see_other("/login")
    return _code_page(await tenant_name(request), flow)


@router.post("/login/code")
async def code_submit(request: Request) -> Response:
    form = await _form(request)
    if isinstance(form, Response):
        return form
    flow_id = cookie(request, FLOW_COOKIE)
    service = _service(request)
    prove = partial(
        service.prove,
        flow_id,
        form.get("csrf_token"),
        Code(form.get("code", "")),
        ip_address=client_ip(request),
        previous_session_cookie=cookie(request, SESSION_COOKIE),
        device_cookie=cookie(request, DEVICE_COOKIE),
    )
    try:
        signed = await runner.off_loop(prove)
    except (FlowExpired, CsrfMismatch) as exc:
        return await start_again(request, exc.message)
    except LockedOut as exc:
        flow = await runner.off_loop(service.flow, flow_id)
        return _code_page(await tenant_name(request), flow, status=429, error=exc.message, **retry_after(exc))
    except SignInFailed:
        flow = await runner.off_loop(service.flow, flow_id)
        return _code_page(await tenant_name(request), flow, status=401, error=CODE_FAILED)
    return signed_in(request, signed)
