"""Security info: the signed-in person's own sign-in methods, and adding, renaming and removing them.

Passkeys need the browser's WebAuthn API, so that one form is driven by a small script
(static/passkeys.js): it fetches the options, calls `navigator.credentials.create`, and posts the answer
with the form. Everything else (authenticator apps, rename, delete) is plain forms. Every post carries the
session's CSRF token; every change needs a recent multi-factor sign-in (methods/registration.py): an old
one sends the person to sign in again, back to this page; a single-factor one (a code alone) sees its
methods and is told, instead of the forms, to sign in with a passkey or a pass.

Reached from "Set up your sign-in methods" during an application's sign-in, these pages carry that
sign-in's `return_to` (the waiting authorization request) through every link, form and redirect, and show
"Continue" to it, so registering a method leads back into the application. It is checked on every use by
the sign-in's own rule (a path on this site or a registered redirect URI: services/portal.py
`checked_return_to`); anything else is dropped, never followed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from passbridge.domain.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from passbridge.methods.aaguids import model_of
from passbridge.methods.oath import AuthenticatorAppService, SetUp
from passbridge.methods.passkeys import PasskeyRefused, PasskeyService
from passbridge.methods.registration import (
    ReauthenticationRequired,
    SingleFactorSession,
    is_multi_factor,
)
from passbridge.passes.burn import is_bound
from passbridge.passes.policy_rules import Purpose
from passbridge.security.webauthn import CeremonyFailed
from passbridge.services import portal
from passbridge.services.context import Env
from passbridge.signin.rules import CsrfMismatch
from passbridge.signin.sessions import SessionService, SessionView
from passbridge.store import runner
from passbridge.store.tx import Tx
from passbridge.web.apps import signed_in_context
from passbridge.web.pages import (
    SCRIPT_CSP,
    FormTooLarge,
    FormUnreadable,
    current_session,
    env_of,
    page,
    read,
    read_form,
    see_other,
    to_login,
    too_large,
)

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

HOME = "/security-info"
REAUTH = f"/login?return_to={quote(HOME, safe='/')}"
RETURN_TO = "return_to"
# Graph's methodUsabilityReason in words a person reads.
REASONS = {
    "EnabledByPolicy": "Ready to use",
    "DisabledByPolicy": "Turned off by your organisation",
    "Expired": "Expired",
    "NotYetValid": "Not valid yet",
    "OneTimeUsed": "Already used",
}
NOTICES = {
    "passkey": "Your passkey was added. Next time, sign in with it: no username or pass needed.",
    "app": "Your authenticator app was added.",
    "renamed": "The name was changed.",
    "deleted": "The sign-in method was removed.",
    "removed-lost": "The methods you lost were removed: they no longer sign anyone in.",
}


@dataclass(frozen=True)
class LostMethod:
    kind: str  # "passkey" or "app", as the rename and remove routes name them
    id: str
    name: str
    created_at: datetime


def lost_methods(view: SessionView, methods: portal.OwnMethods) -> list[LostMethod]:
    """After a recovery (a `recover` pass's session that has registered a new method), the methods that
    were there before it began: what the person lost, offered for removal (passes/burn.py)."""
    if view.pass_purpose != Purpose.RECOVER.value:
        return []
    held = [
        *(LostMethod("passkey", k.id, k.display_name, k.created_at) for k in methods.passkeys),
        *(LostMethod("app", a.id, a.display_name, a.created_at) for a in methods.apps),
    ]
    if not any(m.created_at >= view.auth_time for m in held):
        return []
    return [m for m in held if m.created_at < view.auth_time]


def _here(path: str, return_to: str | None, **params: str) -> str:
    """`path` with `params` and, when there is one, the application sign-in to continue to."""
    query = {**params, **({RETURN_TO: return_to} if return_to else {})}
    return f"{path}?{urlencode(query)}" if query else path


def _reauth(return_to: str | None) -> str:
    back = _here(HOME, return_to)
    return REAUTH if back == HOME else f"/login?{urlencode({RETURN_TO: back})}"


async def _return_to(request: Request, wanted: str | None) -> str | None:
    """`wanted` if the sign-in rule lets a signed-in page send the browser there, else None."""
    if not wanted:
        return None
    return await read(request, lambda tx, _env: portal.checked_return_to(tx, wanted))


async def _unit(request: Request, work: Callable[[Tx, Env], T]) -> T:
    """`work(session, env)` in one writing unit of work, off the event loop."""
    env = env_of(request)

    def run() -> T:
        with env.db.transaction() as tx:
            return work(tx, env)

    return await runner.off_loop(run)


async def _signed_in_form(request: Request) -> tuple[SessionView | None, dict[str, str] | Response]:
    """The session and the posted form once its CSRF token matches the session's; else a response."""
    view = await current_session(request)
    if view is None:
        return None, to_login(request)
    try:
        form = await read_form(request)
    except FormTooLarge:
        return view, await too_large(request)
    except FormUnreadable:
        form = {}
    if not SessionService(env_of(request)).check_csrf(view, form.get("csrf_token")):
        return view, await _overview(request, view, status=400, error=CsrfMismatch().message)
    form[RETURN_TO] = await _return_to(request, form.get(RETURN_TO)) or ""
    return view, form


async def _overview(
    request: Request,
    view: SessionView,
    *,
    status: int = 200,
    error: str | None = None,
    confirm: Any = None,
    return_to: str | None = None,
) -> Response:
    tenant, methods = await read(
        request, lambda tx, env: (portal.tenant_name(tx), portal.own_methods(tx, env, view))
    )
    return page(
        "security_info.html",
        status=status,
        headers=SCRIPT_CSP,
        methods=methods,
        lost=lost_methods(view, methods),
        set_up_only=is_bound(view),
        reasons=REASONS,
        model_of=model_of,
        notice=NOTICES.get(request.query_params.get("done", "")),
        error=error,
        confirm=confirm,
        single_factor=None if is_multi_factor(view.amr) else SingleFactorSession().message,
        reauth=_reauth(return_to),
        csrf_token=SessionService(env_of(request)).csrf_token(view),
        return_to=return_to,
        app_setup_href=_here(f"{HOME}/authenticator-app", return_to),
        **signed_in_context(request, view, tenant),
    )


async def _refused(
    request: Request, view: SessionView, exc: DomainError, return_to: str | None = None
) -> Response:
    if isinstance(exc, ReauthenticationRequired):
        return see_other(_reauth(return_to))
    if isinstance(exc, SingleFactorSession):
        # The page itself says why and what to do instead; the same sentence twice would be noise.
        return await _overview(request, view, status=403, return_to=return_to)
    status = 403 if isinstance(exc, PermissionDenied) else 400
    return await _overview(request, view, status=status, error=exc.message, return_to=return_to)


@router.get(HOME)
async def security_info(request: Request) -> Response:
    view = await current_session(request)
    if view is None:
        return to_login(request)
    return_to = await _return_to(request, request.query_params.get(RETURN_TO))
    return await _overview(request, view, return_to=return_to)


# --- passkeys ------------------------------------------------------------------------------------


@router.post(f"{HOME}/passkeys/options")
async def passkey_options(request: Request) -> Response:
    """The creation options for the script, as JSON: `{ceremonyId, publicKey}`."""
    view, form = await _signed_in_form(request)
    if view is None or not isinstance(form, dict):
        return JSONResponse({"error": "Sign in again to add a passkey.", "location": REAUTH}, status_code=401)
    try:
        started = await _unit(request, lambda s, env: PasskeyService(s, env, view).begin_registration())
    except ReauthenticationRequired as exc:
        location = _reauth(form[RETURN_TO] or None)
        return JSONResponse({"error": exc.message, "location": location}, status_code=401)
    except DomainError as exc:
        return JSONResponse({"error": exc.message}, status_code=403)
    return JSONResponse(
        {"ceremonyId": started.ceremony_id, "publicKey": started.options},
        headers={"Cache-Control": "no-store"},
    )


@router.post(f"{HOME}/passkeys")
async def add_passkey(request: Request) -> Response:
    view, form = await _signed_in_form(request)
    if view is None or not isinstance(form, dict):
        return form if isinstance(form, Response) else to_login(request)
    ceremony_id, answer = form.get("ceremony_id", ""), form.get("credential", "")
    return_to = form[RETURN_TO] or None
    if not ceremony_id or not answer:
        return await _overview(
            request,
            view,
            status=400,
            error="Adding a passkey needs JavaScript and a browser that supports passkeys.",
            return_to=return_to,
        )
    try:
        await _unit(
            request,
            lambda s, env: PasskeyService(s, env, view).finish_registration(
                ceremony_id, answer, form.get("name")
            ),
        )
    except CeremonyFailed as exc:
        return await _overview(
            request, view, status=400, error=f"{exc} Nothing was changed; try again.", return_to=return_to
        )
    except PasskeyRefused as exc:
        refused = exc
        await _unit(request, lambda s, env: PasskeyService(s, env, view).record_refusal(refused))
        return await _refused(request, view, exc, return_to)
    except DomainError as exc:
        return await _refused(request, view, exc, return_to)
    return see_other(_here(HOME, return_to, done="passkey"))


# --- authenticator apps ----------------------------------------------------------------------------


def _app_page(
    request: Request,
    view: SessionView,
    tenant: str,
    started: SetUp,
    return_to: str | None,
    **extra: Any,
) -> Response:
    return page(
        "authenticator_app.html",
        status=400 if extra.get("error") else 200,
        setup=started,
        csrf_token=SessionService(env_of(request)).csrf_token(view),
        name=extra.pop("name", ""),
        error=extra.pop("error", None),
        return_to=return_to,
        back_href=_here(HOME, return_to),
        **signed_in_context(request, view, tenant),
    )


@router.get(f"{HOME}/authenticator-app")
async def authenticator_app_page(request: Request) -> Response:
    view = await current_session(request)
    if view is None:
        return to_login(request)
    return_to = await _return_to(request, request.query_params.get(RETURN_TO))
    try:
        tenant, started = await _unit(
            request,
            lambda s, env: (portal.tenant_name(s), AuthenticatorAppService(s, env, view).begin_setup()),
        )
    except DomainError as exc:
        return await _refused(request, view, exc, return_to)
    return _app_page(request, view, tenant, started, return_to)


@router.post(f"{HOME}/authenticator-app")
async def add_authenticator_app(request: Request) -> Response:
    view, form = await _signed_in_form(request)
    if view is None or not isinstance(form, dict):
        return form if isinstance(form, Response) else to_login(request)
    ceremony_id, code, name = form.get("ceremony_id", ""), form.get("code", ""), form.get("name", "")
    return_to = form[RETURN_TO] or None
    try:
        await _unit(
            request,
            lambda s, env: AuthenticatorAppService(s, env, view).finish_setup(ceremony_id, code, name),
        )
    except InvalidInput as exc:
        # A wrong code: show the same set-up again (same seed, still unsaved) with the message.
        try:
            tenant, started = await _unit(
                request,
                lambda s, env: (
                    portal.tenant_name(s),
                    AuthenticatorAppService(s, env, view).resume(ceremony_id),
                ),
            )
        except DomainError as gone:
            return await _refused(request, view, gone, return_to)
        return _app_page(request, view, tenant, started, return_to, error=exc.message, name=name)
    except DomainError as exc:
        return await _refused(request, view, exc, return_to)
    return see_other(_here(HOME, return_to, done="app"))


# --- rename and remove -------------------------------------------------------------------------------


def _service(kind: str, tx: Tx, env: Env, view: SessionView) -> PasskeyService | AuthenticatorAppService:
    if kind == "passkey":
        return PasskeyService(tx, env, view)
    if kind == "app":
        return AuthenticatorAppService(tx, env, view)
    raise NotFound("There is no such sign-in method.", kind="method")


@router.post(HOME + "/{kind}/{method_id}/rename")
async def rename_method(request: Request, kind: str, method_id: str) -> Response:
    view, form = await _signed_in_form(request)
    if view is None or not isinstance(form, dict):
        return form if isinstance(form, Response) else to_login(request)
    return_to = form[RETURN_TO] or None
    try:
        await _unit(
            request, lambda s, env: _service(kind, s, env, view).rename(method_id, form.get("name", ""))
        )
    except DomainError as exc:
        return await _refused(request, view, exc, return_to)
    return see_other(_here(HOME, return_to, done="renamed"))


@router.post(f"{HOME}/remove-lost")
async def remove_lost(request: Request) -> Response:
    """Remove the methods a recovery replaced, as ticked on the offer (each through its own service's
    rules and audit, in one unit: all or none)."""
    view, form = await _signed_in_form(request)
    if view is None or not isinstance(form, dict):
        return form if isinstance(form, Response) else to_login(request)
    return_to = form[RETURN_TO] or None

    def work(tx: Tx, env: Env) -> int:
        lost = lost_methods(view, portal.own_methods(tx, env, view))
        chosen = [m for m in lost if form.get(f"remove-{m.id}")]
        for method in chosen:
            _service(method.kind, tx, env, view).delete(method.id)
        return len(chosen)

    try:
        removed = await _unit(request, work)
    except DomainError as exc:
        return await _refused(request, view, exc, return_to)
    if not removed:
        return await _overview(
            request, view, status=400, error="Tick the methods you lost to remove them.", return_to=return_to
        )
    return see_other(_here(HOME, return_to, done="removed-lost"))


@router.post(HOME + "/{kind}/{method_id}/delete")
async def delete_method(request: Request, kind: str, method_id: str) -> Response:
    view, form = await _signed_in_form(request)
    if view is None or not isinstance(form, dict):
        return form if isinstance(form, Response) else to_login(request)
    return_to = form[RETURN_TO] or None
    methods = await read(request, lambda s, env: portal.own_methods(s, env, view))
    if methods.strong_count <= 1 and form.get("confirm") != "yes":
        # The last passkey or app: say what follows and ask once more before removing it.
        return await _overview(request, view, confirm={"kind": kind, "id": method_id}, return_to=return_to)
    try:
        await _unit(request, lambda s, env: _service(kind, s, env, view).delete(method_id))
    except DomainError as exc:
        return await _refused(request, view, exc, return_to)
    return see_other(_here(HOME, return_to, done="deleted"))
