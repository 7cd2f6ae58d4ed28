"""The authorization endpoint: `GET /oauth2/v2.0/authorize` (and under `/{tenant}/`).

Authlib validates the request (client, redirect URI, response type, scope, PKCE, nonce, prompt).
Errors before the client and its redirect URI are known good are shown as a page, never redirected
(RFC 6749 section 4.1.2.1); later errors go back to the redirect URI with `error` and `state`.
A usable session gets a code at once; otherwise the browser signs in and comes back here afterwards
(tokens/authorize.py explains the resume mark that proves the sign-in is fresh). An anonymous request
writes nothing: it goes to the login page's pending flow, created on the first post; a signed-in
browser that must sign in again (prompt=login, max_age, step-up) gets a stored flow at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InsecureTransportError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oidc.core.errors import LoginRequiredError
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from passbridge.methods import strength_policies
from passbridge.oidc.grants import OidcClient, OidcServer
from passbridge.oidc.pages import NO_STORE, error_page
from passbridge.oidc.provider import FormPayload, Unit, bound, oauth_error, quoted
from passbridge.services.context import Env
from passbridge.signin.flow import SignInService
from passbridge.signin.sessions import SessionService, SessionView
from passbridge.store import runner
from passbridge.store.tx import Tx
from passbridge.tokens import authorize as rules

SESSION_COOKIE = "pb_session"
TenantCheck = Callable[[Tx, Env, str], bool]


class QueryRequest(OAuth2Request):  # type: ignore[misc]
    """An authorization request: its parameters come in the query string."""

    def __init__(self, uri: str, headers: Any, params: list[tuple[str, str]]) -> None:
        super().__init__("GET", uri, headers=headers)
        grouped: dict[str, list[str]] = {}
        for key, value in params:
            grouped.setdefault(key, []).append(value)
        self.payload = FormPayload(grouped)

    @property
    def args(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data

    @property
    def form(self) -> dict[str, str]:
        return {}


def error_redirect(error: OAuth2Error, state: str | None) -> Response:
    description = error.get_error_description() or ""
    aadsts = getattr(error, "aadsts", None)
    params = [
        ("error", error.error),
        ("error_description", f"AADSTS{aadsts}: {description}" if aadsts else description),
    ]
    if state:
        params.append(("state", state))
    return RedirectResponse(add_params_to_uri(error.redirect_uri, params), status_code=302, headers=NO_STORE)


def _page_for(tx: Tx, env: Env, server: OidcServer, data: dict[str, str]) -> Response | None:
    """A page for requests whose client or redirect URI cannot be trusted with an answer."""
    client_id, redirect_uri = data.get("client_id"), data.get("redirect_uri")
    if not client_id:
        return error_page("The request must contain the 'client_id' parameter.", code=900144)
    client = server.query_client(client_id)
    if client is None:
        return error_page(
            f"Application with identifier '{quoted(client_id)}' was not found in the directory.",
            code=700016,
        )
    if not redirect_uri:
        return error_page("The request must contain the 'redirect_uri' parameter.", code=900144)
    if not client.check_redirect_uri(redirect_uri):
        return error_page(
            f"The redirect URI '{quoted(redirect_uri, 200)}' specified in the request does not match the "
            f"redirect URIs configured for the application '{client.client.app_id}'.",
            code=50011,
        )
    return None


def _max_age(data: dict[str, str]) -> int | None:
    text = data.get("max_age")
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 9:
        raise oauth_error(InvalidRequestError, 90019, "max_age must be a non-negative number of seconds.")
    return int(text)


def authorize(
    env: Env,
    server: OidcServer,
    uri: str,
    path: str,
    headers: Any,
    query: str,
    cookie: str | None,
    tenant: str | None,
    tenant_known: TenantCheck,
) -> Response:
    """The whole endpoint, off the event loop: reads, maybe a flow, maybe a code."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=rules.MAX_QUERY_FIELDS)
    except ValueError:
        return error_page("The request has too many parameters.", code=90015)
    params, resumed_at = rules.split_resume(env, pairs)
    signed_in = SessionService(env).current(cookie)
    try:
        request = QueryRequest(uri, headers, params)
    except InsecureTransportError:
        return error_page("OAuth 2.0 requires https; PASSBRIDGE_BASE_URL is plain http.")
    data = request.payload.data
    state = data.get("state")
    # The code belongs to the authority it was asked through (tokens/oidc.py `grant_hash`).
    authority = tenant.lower() if tenant is not None else None
    with env.db.transaction("read") as tx, bound(Unit(tx, env, authority=authority)):
        if tenant is not None and not tenant_known(tx, env, tenant):
            return error_page(f"Tenant '{quoted(tenant)}' not found.", code=90002)
        page = _page_for(tx, env, server, data)
        if page is not None:
            return page
        try:
            grant = server.get_consent_grant(request, end_user=signed_in)
            max_age = _max_age(data)
        except OAuth2Error as error:
            if not error.redirect_uri:
                error.redirect_uri = data["redirect_uri"]  # checked against the client above
            if isinstance(error, LoginRequiredError):
                error.aadsts = 50058
                error.description = "A silent sign-in request was sent but no user is signed in."
            return error_redirect(error, state)
        client: OidcClient = grant.request.client
        decision = rules.decide(
            signed_in,
            prompts=(data.get("prompt") or "").split(),
            max_age=max_age,
            resumed_at=resumed_at,
            now=env.clock.now(),
            wanted=rules.wanted_strength(
                client.client.required_strength,
                data.get("acr_values"),
                lambda reference: strength_policies.find(tx, reference),
            ),
        )
    if decision.too_weak is not None:
        refused = AccessDeniedError(redirect_uri=data["redirect_uri"])
        refused.aadsts = 53003
        refused.description = (
            f"Access has been blocked: this application requires the authentication strength "
            f"'{decision.too_weak.display_name}', and the method used to sign in does not satisfy it."
        )
        return error_redirect(refused, state)
    if decision.sign_in:
        if "none" in (data.get("prompt") or "").split():
            stale = LoginRequiredError(redirect_uri=data["redirect_uri"])
            stale.aadsts = 50058
            stale.description = "The session is too old for max_age and prompt=none forbids a sign-in."
            return error_redirect(stale, state)
        return_to = f"{path}?{rules.resume_query(env, params, env.clock.now())}"
        if signed_in is None:
            # Nothing stored for an anonymous request: the login page's pending flow carries the
            # request (with its resume mark) until the first post (tokens/authorize.py).
            return RedirectResponse(
                f"/login?{urlencode({'return_to': return_to})}", status_code=303, headers=NO_STORE
            )
        flow = SignInService(env).begin(
            return_to=return_to,
            auth_request={k: v for k, v in data.items() if k != "code_challenge"},
            client_id=client.client.app_id,
            force_login=decision.force,
        )
        return RedirectResponse(f"/login?{urlencode({'flow': flow.id})}", status_code=303, headers=NO_STORE)
    assert signed_in is not None
    return _issue_code(env, server, grant, signed_in, state, authority)


def _issue_code(
    env: Env,
    server: OidcServer,
    grant: Any,
    signed_in: SessionView,
    state: str | None,
    authority: str | None,
) -> Response:
    with env.db.transaction() as tx, bound(Unit(tx, env, authority=authority)):
        try:
            status, _, response_headers = grant.create_authorization_response(grant.redirect_uri, signed_in)
        except OAuth2Error as error:
            error.redirect_uri = grant.redirect_uri
            return error_redirect(error, state)
    return Response(status_code=status, headers={**dict(response_headers), **NO_STORE})


def install(router: APIRouter, server: OidcServer, tenant_known: TenantCheck) -> None:
    async def endpoint(request: Request, tenant: str | None) -> Response:
        env: Env = request.app.state.env
        uri = env.settings.base_url + request.url.path
        response: Response = await runner.off_loop(
            authorize,
            env,
            server,
            uri,
            request.url.path,
            request.headers,
            request.url.query,
            request.cookies.get(SESSION_COOKIE),
            tenant,
            tenant_known,
        )
        return response

    @router.get("/oauth2/v2.0/authorize")
    async def root_authorize(request: Request) -> Response:
        return await endpoint(request, None)

    @router.get("/{tenant}/oauth2/v2.0/authorize")
    async def tenant_authorize(tenant: str, request: Request) -> Response:
        return await endpoint(request, tenant)
