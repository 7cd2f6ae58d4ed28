"""The sign-in pages: `/login` (who are you?) and `/login/pass` (prove it with a Temporary Access Pass).
Passkeys and authenticator-app codes have their pages in web/passwordless.py.

The flow lives in the database and the browser holds only its id (`pb_flow`), so any server process
can serve any step. Every failure shows one generic message: never which part was wrong.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError, InvalidInput
from passbridge.passes.burn import is_bound
from passbridge.signin.finish import SignedIn
from passbridge.signin.flow import FlowView, SignInService
from passbridge.signin.rules import CsrfMismatch, FlowExpired, FlowState, LockedOut, SignInFailed
from passbridge.signin.sessions import SessionService, SessionView
from passbridge.signin.strategies import Pass
from passbridge.store import runner
from passbridge.web.pages import (
    DEVICE_COOKIE,
    FLOW_COOKIE,
    SCRIPT_CSP,
    SESSION_COOKIE,
    FormTooLarge,
    FormUnreadable,
    clear_flow_cookie,
    client_ip,
    cookie,
    current_session,
    env_of,
    issued,
    page,
    read_form,
    see_other,
    set_device_cookie,
    set_flow_cookie,
    set_session_cookie,
    shown_tenant_name,
    tenant_name,
    too_large,
)

router = APIRouter(include_in_schema=False)
# `/login?another=1`: the username form even while signed in ("Use another account").
ANOTHER = "another"


async def start_again(request: Request, message: str) -> Response:
    """The flow is gone or the form was not ours: nothing was changed; offer a fresh start."""
    return page(
        "problem.html",
        status=400,
        tenant=await tenant_name(request),
        title="Start again",
        message=message,
        link_href="/login",
        link_text="Start again",
    )


async def _flow_for_page(service: SignInService, request: Request) -> tuple[FlowView, str]:
    """The flow this visit continues and the organisation's name, in one trip off the event loop: the
    flow named by `?flow=` (begun by the authorize endpoint), a new one for `?return_to=`, else the
    browser's open flow ("Use another account" keeps where it was going) or a new one."""
    params = request.query_params
    if "flow" in params:
        call = partial(service.login_page, flow_id=issued(FLOW_COOKIE, params["flow"]), or_begin=False)
    elif "return_to" in params:
        call = partial(service.login_page, return_to=params["return_to"])
    else:
        call = partial(service.login_page, flow_id=cookie(request, FLOW_COOKIE))
    flow, tenant = await runner.off_loop(call)
    return flow, shown_tenant_name(tenant)


def username_page_response(
    tenant: str,
    flow: FlowView,
    *,
    status: int = 200,
    username: str = "",
    error: str | None = None,
    passkey_error: str | None = None,
    signed_in_as: SessionView | None = None,
    another: bool = False,
) -> Response:
    return page(
        "login.html",
        status=status,
        headers=SCRIPT_CSP,
        tenant=tenant,
        csrf_token=flow.csrf_token,
        # A pending flow's destination goes back with the first post, which creates the flow.
        return_to=flow.return_to or "",
        username=username,
        error=error,
        passkey_error=passkey_error,
        signed_in_as=signed_in_as,
        another=another,
        # Sent here from an application while signed in with a pass that only sets up methods.
        set_up_only=signed_in_as is not None and is_bound(signed_in_as),
    )


def pass_page_response(
    tenant: str,
    flow: FlowView,
    *,
    status: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
    passkey_error: str | None = None,
) -> Response:
    return page(
        "pass.html",
        status=status,
        headers={**SCRIPT_CSP, **(headers or {})},
        tenant=tenant,
        csrf_token=flow.csrf_token,
        username=flow.username or "",
        error=error,
        passkey_error=passkey_error,
    )


def signed_in(request: Request, signed: SignedIn) -> Response:
    """Where a finished sign-in goes, with its session cookie: set-up first when the person has no
    passkey or authenticator app yet, then where the flow was going (an app, or My apps)."""
    if signed.needs_setup:
        after = f"?return_to={quote(signed.return_to, safe='/')}" if signed.return_to else ""
        location = f"/setup-methods{after}"
    elif is_bound(signed.session):
        # An enrol or recover pass opens security info only (passes/burn.py): that is where it leads.
        location = "/security-info"
    else:
        location = signed.return_to or "/apps"
    response = see_other(location)
    set_session_cookie(request, response, signed.cookie_value, signed.session.expires_at)
    set_device_cookie(request, response, signed.device_cookie)
    clear_flow_cookie(request, response)
    return response


def retry_after(locked: LockedOut) -> dict[str, str]:
    """Retry-After for a lockout that ends; none for the ceiling, which only a success or a new pass ends."""
    if locked.retry_after is None:
        return {}
    return {"Retry-After": str(max(1, int(locked.retry_after.total_seconds())))}


@router.get("/login")
async def login_page(request: Request) -> Response:
    service = SignInService(env_of(request))
    # Only a browser holding a session cookie can be signed in: anonymous visits skip the lookup.
    view = await current_session(request) if cookie(request, SESSION_COOKIE) else None
    try:
        flow, tenant = await _flow_for_page(service, request)
    except InvalidInput as exc:
        return page(
            "problem.html",
            status=400,
            tenant=await tenant_name(request),
            title="This sign-in link can't be used",
            message=exc.message,
            link_href="/login",
            link_text="Sign in",
        )
    except FlowExpired as exc:
        return await start_again(request, exc.message)
    if view is not None and not set(request.query_params) & {"flow", "return_to", ANOTHER}:
        return already_signed_in(request, tenant, flow, view)
    # Still signed in but sent here to prove again (an application asking for a fresh sign-in, a change
    # to security info after 10 minutes): the form, naming who is signed in, their name filled in.
    again = view if view is not None and ANOTHER not in request.query_params else None
    response = username_page_response(
        tenant,
        flow,
        username=again.user_principal_name if again else "",
        signed_in_as=view,
        another=ANOTHER in request.query_params,
    )
    set_flow_cookie(request, response, flow)
    return response


def already_signed_in(request: Request, tenant: str, flow: FlowView, view: SessionView) -> Response:
    """`/login` opened while signed in: who, "Continue" to where the open sign-in was going (else My
    apps), and "Use another account".

    "Use another account" is Entra's account picker's choice: it starts a fresh sign-in and ends nothing.
    The session stays until the new sign-in succeeds (the sign-in replaces the browser's session then,
    as every sign-in does) or the person signs out, so backing out of it leaves them as they were."""
    return page(
        "login_signed_in.html",
        tenant=tenant,
        user=view,
        continue_to=flow.return_to or "/apps",
        another_href=f"/login?{ANOTHER}=1",
        signout_csrf=SessionService(env_of(request)).csrf_token(view),
    )


@router.post("/login")
async def login_submit(request: Request) -> Response:
    service = SignInService(env_of(request))
    flow_id = cookie(request, FLOW_COOKIE)
    try:
        form = await read_form(request)
    except FormTooLarge:
        return await too_large(request)
    except FormUnreadable:
        return await start_again(request, CsrfMismatch().message)
    username = form.get("username", "")
    return_to = form.get("return_to") or None
    identify = partial(service.identify, flow_id, form.get("csrf_token"), username, return_to=return_to)
    try:
        await runner.off_loop(identify)
    except InvalidInput as exc:
        # The flow may still be pending (nothing stored before a valid username): show it again.
        again = partial(service.login_page, flow_id=flow_id, return_to=return_to)
        try:
            flow, tenant = await runner.off_loop(again)
        except InvalidInput as bad_link:
            return await start_again(request, bad_link.message)
        response = username_page_response(
            shown_tenant_name(tenant), flow, status=400, username=username, error=exc.message
        )
        set_flow_cookie(request, response, flow)
        return response
    except (FlowExpired, CsrfMismatch) as exc:
        return await start_again(request, exc.message)
    return see_other("/login/pass")


@router.get("/login/pass")
async def pass_page(request: Request) -> Response:
    flow_id = cookie(request, FLOW_COOKIE)
    if not flow_id:
        return see_other("/login")
    try:
        flow = await runner.off_loop(SignInService(env_of(request)).flow, flow_id)
    except FlowExpired as exc:
        return await start_again(request, exc.message)
    if flow.state != FlowState.PROVE:
        return see_other("/login")
    return pass_page_response(await tenant_name(request), flow)


@router.post("/login/pass")
async def pass_submit(request: Request) -> Response:
    service = SignInService(env_of(request))
    flow_id = cookie(request, FLOW_COOKIE)
    try:
        form = await read_form(request)
    except FormTooLarge:
        return await too_large(request)
    except FormUnreadable:
        return await start_again(request, CsrfMismatch().message)
    prove = partial(
        service.prove,
        flow_id,
        form.get("csrf_token"),
        Pass(form.get("pass", "")),
        ip_address=client_ip(request),
        previous_session_cookie=cookie(request, SESSION_COOKIE),
        device_cookie=cookie(request, DEVICE_COOKIE),
    )
    refused: DomainError
    try:
        signed = await runner.off_loop(prove)
    except (FlowExpired, CsrfMismatch) as exc:
        return await start_again(request, exc.message)
    except (SignInFailed, LockedOut) as exc:
        refused = exc
    else:
        return signed_in(request, signed)
    try:
        flow = await runner.off_loop(service.flow, flow_id)
    except FlowExpired as expired:
        return await start_again(request, expired.message)
    if isinstance(refused, LockedOut):
        return pass_page_response(
            await tenant_name(request), flow, status=429, error=refused.message, headers=retry_after(refused)
        )
    return pass_page_response(await tenant_name(request), flow, status=401, error=refused.message)
