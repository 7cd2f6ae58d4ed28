"""OpenID Connect discovery, the published keys and the token endpoint, at our own paths and Entra's.

Our paths: `/.well-known/openid-configuration`, `/discovery/v2.0/keys` (also `/jwks`) and
`/oauth2/v2.0/token`. Entra's: the same under `/{tenant}/`, where `tenant` is our tenant's id or
`organizations` / `common` (one tenant per store, so both name it); discovery lives at
`/{tenant}/v2.0/.well-known/openid-configuration` as Microsoft's client libraries expect.

Each of these is an authority with its own issuer (tokens/service.py `issuer_of`): the root one is the
base URL, `/{tenant}/...` is `<base>/{tenant}/v2.0`. Its discovery document names that issuer and its own
endpoints (OpenID Connect Discovery 4.3: the issuer is the URL the document was found under), and the
tokens its token endpoint issues carry it, so a strict relying party configured with any one authority
accepts both. Unlike Entra, whose `/common` document says `{tenantid}` in place of an issuer that no
strict client can match, `/common` and `/organizations` are authorities of their own.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InsecureTransportError
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from passbridge import fastpath, forms
from passbridge.fastpath.routing import add_routes
from passbridge.fastpath.token_shortcut import TOKEN_PATH, TokenShortcut
from passbridge.ids import new_guid
from passbridge.oidc import user_routes
from passbridge.oidc.provider import (
    CLIENT_AUTH_METHODS,
    FormRequest,
    Server,
    Unit,
    error_response,
    new_correlation_id,
    quoted,
)
from passbridge.security.keys import ALGORITHM
from passbridge.services.context import Env
from passbridge.store import runner
from passbridge.store.tx import Tx
from passbridge.tokens import keys as key_service
from passbridge.tokens import service as tokens

TENANT_ALIASES = tokens.TENANT_ALIASES
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 64
DISCOVERY_MAX_AGE_SECONDS = 3600


def _env(request: Request) -> Env:
    env: Env = request.app.state.env
    return env


def _env_of_app(app: FastAPI) -> Env:
    env: Env = app.state.env
    return env


def _ids(request: Request) -> tuple[str, str]:
    trace_id = getattr(request.state, "request_id", None) or new_guid()
    return trace_id, new_correlation_id(request.headers.get("client-request-id"))


def tenant_known(tx: Tx, env: Env, segment: str) -> bool:
    """Whether the segment names an authority of this store (then `segment.lower()` is that authority)."""
    return tokens.authority_of(tx, env, segment) is not None


def _unknown_tenant(env: Env, request: Request, segment: str, *, error: str) -> JSONResponse:
    trace_id, correlation_id = _ids(request)
    return error_response(
        env,
        400,
        error=error,
        description=f"Tenant '{quoted(segment)}' not found. "
        "Check to make sure you have the correct tenant ID.",
        aadsts=90002,
        trace_id=trace_id,
        correlation_id=correlation_id,
    )


def discovery_document(env: Env, server: Server, *, authority: str | None) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 section 3 for one authority: its own issuer (the `iss` of the tokens
    its endpoints issue) and its endpoints under its path, so a client that found the document under a
    tenant path (and takes the tenant from the token endpoint, as MSAL does) stays on it."""
    base = env.settings.base_url
    prefix = base if authority is None else f"{base}/{authority}"
    return {
        "issuer": tokens.issuer_of(env, authority),
        "token_endpoint": f"{prefix}/oauth2/v2.0/token",
        "jwks_uri": f"{prefix}/discovery/v2.0/keys",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "grant_types_supported": server.grant_types,
        "scopes_supported": [f"{env.settings.base_url}/.default"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "tid", "oid", "azp", "roles"],
        # Discovery's defaults for these are true for request_uri; say plainly we support none of them.
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        # The code flow's endpoints, scopes, claims and methods (these replace the members above).
        **user_routes.discovery_metadata(env, prefix=prefix),
    }


async def _read_form(request: Request) -> dict[str, list[str]] | None:
    """The token request's fields, repeated names kept (Authlib refuses those); None when the body is
    not a form we can read. Raises forms.FormTooLarge past MAX_FORM_BYTES, before reading the rest."""
    try:
        fields = await forms.read_form(request, max_bytes=MAX_FORM_BYTES, max_fields=MAX_FORM_FIELDS)
    except forms.FormUnreadable:
        return None
    if fields is None:
        return None
    form: dict[str, list[str]] = {}
    for name, value in fields:
        form.setdefault(name, []).append(value)
    return form


def install(app: FastAPI) -> None:
    server: Server = user_routes.OidcServer()
    router = APIRouter(include_in_schema=False)

    async def in_unit(request: Request, work: Any) -> Any:
        env = _env(request)

        def run() -> Any:
            with env.db.transaction("read") as tx:
                return work(tx, env)

        return await runner.off_loop(run)

    # --- discovery and keys -------------------------------------------------------------------

    @router.get("/.well-known/openid-configuration")
    async def discovery(request: Request) -> JSONResponse:
        env = _env(request)
        document = discovery_document(env, server, authority=None)
        return JSONResponse(
            document, headers={"Cache-Control": f"public, max-age={DISCOVERY_MAX_AGE_SECONDS}"}
        )

    @router.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def tenant_discovery(tenant: str, request: Request) -> JSONResponse:
        def work(tx: Tx, env: Env) -> JSONResponse:
            authority = tokens.authority_of(tx, env, tenant)
            if authority is None:
                return _unknown_tenant(env, request, tenant, error="invalid_tenant")
            document = discovery_document(env, server, authority=authority)
            cache = f"public, max-age={DISCOVERY_MAX_AGE_SECONDS}"
            return JSONResponse(document, headers={"Cache-Control": cache})

        response: JSONResponse = await in_unit(request, work)
        return response

    def keys_response(tx: Tx, env: Env) -> JSONResponse:
        cache = f"public, max-age={key_service.JWKS_MAX_AGE_SECONDS}"
        return JSONResponse({"keys": key_service.public_jwks(tx, env)}, headers={"Cache-Control": cache})

    @router.get("/discovery/v2.0/keys")
    @router.get("/jwks")
    async def jwks(request: Request) -> JSONResponse:
        response: JSONResponse = await in_unit(request, keys_response)
        return response

    @router.get("/{tenant}/discovery/v2.0/keys")
    async def tenant_jwks(tenant: str, request: Request) -> JSONResponse:
        def work(tx: Tx, env: Env) -> JSONResponse:
            if not tenant_known(tx, env, tenant):
                return _unknown_tenant(env, request, tenant, error="invalid_tenant")
            return keys_response(tx, env)

        response: JSONResponse = await in_unit(request, work)
        return response

    # --- token ----------------------------------------------------------------------------------

    async def token(request: Request, tenant: str | None) -> Response:
        env = _env(request)
        trace_id, correlation_id = _ids(request)
        try:
            form = await _read_form(request)
        except forms.FormTooLarge:
            return error_response(
                env,
                413,
                error="invalid_request",
                description=f"The request body is larger than {MAX_FORM_BYTES} bytes.",
                aadsts=None,
                trace_id=trace_id,
                correlation_id=correlation_id,
            )
        uri = env.settings.base_url + request.scope["path"]  # only its scheme and host matter (Authlib)

        def answer(tx: Tx) -> Response:
            authority = tokens.authority_of(tx, env, tenant) if tenant is not None else None
            if tenant is not None and authority is None:
                return _unknown_tenant(env, request, tenant, error="invalid_request")
            if form is None:
                return error_response(
                    env,
                    400,
                    error="invalid_request",
                    description="The request body must contain the following parameter: 'grant_type'. "
                    f"Send it as {FORM}.",
                    aadsts=900144,
                    trace_id=trace_id,
                    correlation_id=correlation_id,
                )
            try:
                oauth_request = FormRequest(
                    uri, request.headers, form, trace_id=trace_id, correlation_id=correlation_id
                )
            except InsecureTransportError:
                return error_response(
                    env,
                    400,
                    error="invalid_request",
                    description="OAuth 2.0 requires https; PASSBRIDGE_BASE_URL is plain http.",
                    aadsts=None,
                    trace_id=trace_id,
                    correlation_id=correlation_id,
                )
            return server.token_response(Unit(tx, env, authority=authority), oauth_request)

        grant_type = form.get("grant_type") if form is not None else None

        def run() -> Response:
            if grant_type == ["client_credentials"]:
                # Only Core selects, each answering alone (the application; the tenant id and keys
                # are cached snapshots): no transaction round is needed.
                with env.db.transaction("autocommit") as tx:
                    return answer(tx)
            # The code grant writes (a code used once): a writing unit, off the loop. A request without
            # a form only gets an error: a read-only unit, on the loop.
            with env.db.transaction("read" if form is None else "write") as tx:
                return answer(tx)

        if form is None or grant_type == ["client_credentials"]:
            # A grant reads the application and, at most every KEY_SNAPSHOT_TTL, the keys: a point read.
            response: Response = await runner.read(env.db, run)
        elif grant_type == ["refresh_token"]:
            # Core statements only (tokens/oidc_queries.py), so no Session: one write
            # transaction, which the rotation's conditional UPDATE needs; `answer` holds no await.
            response = await runner.write(env.db, answer)
        else:
            response = await runner.off_loop(run)
        return response

    if fastpath.active("token_shortcut"):
        app.add_middleware(TokenShortcut, token=token)

    # The routes a POST is served by without TokenShortcut, and which name POST in a 405's Allow header.
    @router.post(TOKEN_PATH)
    async def root_token(request: Request) -> Response:
        return await token(request, None)

    @router.post("/{tenant}" + TOKEN_PATH)
    async def tenant_token(request: Request, tenant: str) -> Response:
        return await token(request, tenant)

    @router.api_route(TOKEN_PATH, methods=["GET", "PUT", "PATCH", "DELETE"])
    @router.api_route("/{tenant}" + TOKEN_PATH, methods=["GET", "PUT", "PATCH", "DELETE"])
    async def token_wrong_method(request: Request) -> JSONResponse:
        env = _env(request)
        trace_id, correlation_id = _ids(request)
        response = error_response(
            env,
            405,
            error="invalid_request",
            description=f"The endpoint only accepts POST requests. Received a {request.method} request.",
            aadsts=900561,
            trace_id=trace_id,
            correlation_id=correlation_id,
        )
        response.headers["Allow"] = "POST"
        return response

    user_routes.install(router, server, tenant_known, _env_of_app(app))
    app.state.oauth_server = server
    add_routes(app, router)  # flattened: see fastpath/routing.py
