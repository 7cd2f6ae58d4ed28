"""The userinfo endpoint and RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

Logout: Authlib's EndSessionEndpoint validates `id_token_hint` (our signature; expiry ignored, as
the specification allows), resolves the client, and exact-matches `post_logout_redirect_uri` against
the application's registered redirect URIs, adding `state`. A valid hint whose subject is the person
signed in to this browser signs out at once. Otherwise the request could be a forged link or carry
someone else's old ID token, so, as RP-Initiated Logout 1.0 section 2 requires ("the OP MUST ask the
End-User ... if an id_token_hint was not provided or if the supplied ID Token does not belong to the
current OP session"), it signs out only after the person confirms on our page (a POST carrying the
session's CSRF token). Signing out ends the browser session named by the cookie (and, for a matching
hint, the session its `sid` names: the same person's), and revokes every refresh token issued from
them; a hint alone never ends anything. Access tokens already issued stay valid until they expire.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import InsecureTransportError, OAuth2Error
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from passbridge import forms
from passbridge.oidc.authorize import SESSION_COOKIE, QueryRequest
from passbridge.oidc.grants import OidcServer
from passbridge.oidc.pages import NO_STORE, confirm_sign_out_page, error_page, signed_out_page
from passbridge.oidc.provider import Unit, _current, bound
from passbridge.security.keys import ALGORITHM
from passbridge.services.context import Env
from passbridge.signin.sessions import SessionService, SessionView
from passbridge.store import runner
from passbridge.tokens import claims as user_tokens
from passbridge.tokens import keys as key_service
from passbridge.tokens import oidc
from passbridge.tokens import service as tokens

MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 32
LOGOUT_FIELDS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint")


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    def get_server_jwks(self) -> dict[str, Any]:
        unit = _current()
        return {"keys": key_service.public_jwks(unit.tx, unit.env)}

    def get_algorithms(self) -> list[str]:
        return [ALGORITHM]

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        """Done by the route after validation, in its own write transaction."""


def _hint_is_an_id_token(env: Env, claims: dict[str, Any], tenant: str | None) -> bool:
    # Our key also signs access tokens; only an ID token (aud = a client, no idtyp) from one of the
    # tenant's authorities counts as a hint.
    return "idtyp" not in claims and tokens.issued_here(env, claims.get("iss"), tenant)


def _hint_names(env: Env, claims: dict[str, Any], current: SessionView) -> bool:
    """Whether the hint's subject is the person signed in: its pairwise `sub` is theirs for its client."""
    audience = claims.get("aud")
    client_id = audience[0] if isinstance(audience, list) and len(audience) == 1 else audience
    if not isinstance(client_id, str) or not isinstance(claims.get("sub"), str):
        return False
    return hmac.compare_digest(claims["sub"], user_tokens.pairwise_sub(env, client_id, current.user_id))


def logout(
    env: Env,
    server: OidcServer,
    uri: str,
    path: str,
    method: str,
    headers: Any,
    params: list[tuple[str, str]],
    cookie: str | None,
) -> Response:
    sessions = SessionService(env)
    current = sessions.current(cookie)
    try:
        request = QueryRequest(uri, headers, [(k, v) for k, v in params if k in LOGOUT_FIELDS])
    except InsecureTransportError:
        return error_page("OpenID Connect requires https; PASSBRIDGE_BASE_URL is plain http.")
    with env.db.transaction("read") as tx, bound(Unit(tx, env)):
        try:
            validated: EndSessionRequest = server.validate_endpoint_request("end_session", request)
        except OAuth2Error as error:
            # RP-Initiated Logout section 4: on errors the OP must not redirect.
            return error_page(f"The sign-out request is not valid: {error.get_error_description()}")
        tenant = tokens.tenant_id(tx, env)
    claims = validated.id_token_claims
    if claims is not None and not _hint_is_an_id_token(env, claims, tenant):
        return error_page("The sign-out request is not valid: id_token_hint is not an ID token.")
    ending: set[str] = set()
    if current is not None:
        if claims is None or not _hint_names(env, claims, current):
            presented = dict(params).get("csrf_token")
            if method != "POST" or not sessions.check_csrf(current, presented):
                fields = {k: v for k, v in request.payload.data.items()}
                fields["csrf_token"] = sessions.csrf_token(current)
                return confirm_sign_out_page(path, fields, who=current.user_principal_name)
        elif isinstance(claims.get("sid"), str):
            ending.add(claims["sid"])  # the same person's session the hint came from
        ending.add(current.id)
    if ending:
        with env.db.transaction() as tx:
            oidc.sign_out(tx, env, ending)
    response: Response
    if validated.redirect_uri:
        response = RedirectResponse(validated.redirect_uri, status_code=302, headers=NO_STORE)
    else:
        response = signed_out_page()
    if current is not None and current.id in ending:
        response.delete_cookie(
            SESSION_COOKIE, path="/", secure=not env.settings.is_local, httponly=True, samesite="lax"
        )
    return response


def _bearer(request: Request, form: dict[str, str]) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return form.get("access_token") or None


def install(router: APIRouter, server: OidcServer) -> None:
    server.register_endpoint(EndSession)

    async def form_of(request: Request) -> list[tuple[str, str]]:
        """The posted fields (forms.py); none for a GET or a body that is not a form."""
        if request.method != "POST":
            return []
        return await forms.read_form(request, max_bytes=MAX_FORM_BYTES, max_fields=MAX_FIELDS) or []

    async def end_session(request: Request) -> Response:
        env: Env = request.app.state.env
        try:
            query = parse_qsl(request.url.query, keep_blank_values=True, max_num_fields=MAX_FIELDS)
            params = query + await form_of(request)
        except forms.FormTooLarge:
            return error_page("The sign-out request is too large.", status=413)
        except (forms.FormUnreadable, ValueError):  # ValueError: too many query fields
            return error_page("The sign-out request could not be read.")
        response: Response = await runner.off_loop(
            logout,
            env,
            server,
            env.settings.base_url + request.url.path,
            request.url.path,
            request.method,
            request.headers,
            params,
            request.cookies.get(SESSION_COOKIE),
        )
        return response

    router.add_api_route("/oauth2/v2.0/logout", end_session, methods=["GET", "POST"])
    router.add_api_route("/{tenant}/oauth2/v2.0/logout", end_session, methods=["GET", "POST"])

    async def userinfo(request: Request) -> JSONResponse:
        env: Env = request.app.state.env
        try:
            bearer = _bearer(request, dict(await form_of(request)))
        except (forms.FormTooLarge, forms.FormUnreadable) as refused:
            too_large = isinstance(refused, forms.FormTooLarge)
            description = (
                "The request body is too large." if too_large else "The request body cannot be read."
            )
            return JSONResponse(
                {"error": "invalid_request", "error_description": description},
                status_code=413 if too_large else 400,
                headers=NO_STORE,
            )

        def run() -> JSONResponse:
            if bearer is None:
                return JSONResponse(
                    {"error": "invalid_request", "error_description": "A bearer access token is required."},
                    status_code=401,
                    headers={**NO_STORE, "WWW-Authenticate": 'Bearer realm="Passbridge"'},
                )
            try:
                with env.db.transaction("read") as tx:
                    return JSONResponse(user_tokens.userinfo(tx, env, bearer), headers=NO_STORE)
            except user_tokens.UserInfoRefused as refused:
                challenge = (
                    f'Bearer realm="Passbridge", error="{refused.error}", '
                    f'error_description="{refused.description.replace(chr(34), chr(39))}"'
                )
                return JSONResponse(
                    {"error": refused.error, "error_description": refused.description},
                    status_code=refused.status,
                    headers={**NO_STORE, "WWW-Authenticate": challenge},
                )

        response: JSONResponse = await runner.off_loop(run)
        return response

    router.add_api_route("/oidc/userinfo", userinfo, methods=["GET", "POST"])
