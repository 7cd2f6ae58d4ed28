"""The OAuth 2.0 authorization server: Authlib's protocol engine over our token services.

Authlib owns the protocol (grant dispatch, client authentication order, error codes); we supply the
storage hooks and this module's small adapter from an already-parsed form request. Grants are
registered on one process-wide server, so the authorization code, refresh token and OpenID Connect
grants plug in beside client credentials.

Authlib's hooks (`query_client`, token generators) receive no request, so the store connection of the
call in progress is held in a context variable for exactly the duration of `token_response`.

Errors follow RFC 6749 section 5.2 with Entra's extra members (`error_codes` holding the AADSTS
number, `timestamp`, `trace_id`, `correlation_id`), because Microsoft's client libraries read them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from starlette.responses import JSONResponse

from passbridge.ids import new_guid
from passbridge.services.context import Env
from passbridge.store.tx import Tx
from passbridge.tokens import service as tokens

# Authlib's debug lines may carry client ids with request context and, in some grants, token
# dicts; nothing of the token endpoint is logged below INFO.
logging.getLogger("authlib").setLevel(logging.INFO)

CLIENT_AUTH_METHODS = ("client_secret_post", "client_secret_basic")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenJSONResponse(JSONResponse):
    """Starlette's JSONResponse rendered by orjson: the same bytes for these bodies (strings, integers
    and lists of strings), but a token response's three tokens are kilobytes that json.dumps escapes
    character by character, a fiftieth of a grant's time (tests/api/test_tokens.py compares)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass(frozen=True)
class Unit:
    """What the grant in progress works on: its transaction (a write one for the code and refresh grants,
    an autocommit one for client credentials, which only selects; oidc/routes.py)."""

    tx: Tx
    env: Env
    # The authority the request came through (a tenant id or alias, lowercase; None for the root one):
    # its tokens carry that authority's issuer, and its codes and refresh tokens are good only there.
    authority: str | None = None

    @property
    def issuer(self) -> str:
        return tokens.issuer_of(self.env, self.authority)


_unit: ContextVar[Unit] = ContextVar("passbridge_oauth_unit")


def _current() -> Unit:
    return _unit.get()


@contextmanager
def bound(unit: Unit) -> Iterator[None]:
    token = _unit.set(unit)
    try:
        yield
    finally:
        _unit.reset(token)


# --- errors ------------------------------------------------------------------------------------


def oauth_error(
    cls: type[OAuth2Error], aadsts: int, description: str, *, status: int | None = None
) -> OAuth2Error:
    """An Authlib error carrying Entra's AADSTS number for `error_codes`."""
    error: OAuth2Error = (
        cls(description=description, status_code=status)
        if cls is not UnsupportedGrantTypeError
        else cls(description)
    )
    error.aadsts = aadsts
    return error


def quoted(value: str, limit: int = 64) -> str:
    """Caller-supplied text echoed in a description, cut short and kept to RFC 6749's character set."""
    return "".join(c for c in value[:limit] if " " <= c <= "~" and c not in '"\\')


def missing(name: str) -> OAuth2Error:
    return oauth_error(
        InvalidRequestError, 900144, f"The request body must contain the following parameter: '{name}'."
    )


def error_body(
    env: Env,
    *,
    error: str,
    description: str,
    aadsts: int | None,
    trace_id: str,
    correlation_id: str,
) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{aadsts}: {description}" if aadsts is not None else description,
        "error_codes": [aadsts] if aadsts is not None else [],
        "timestamp": env.clock.now().strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    }


def error_response(
    env: Env,
    status: int,
    *,
    error: str,
    description: str,
    aadsts: int | None,
    trace_id: str,
    correlation_id: str,
    www_authenticate: str | None = None,
) -> JSONResponse:
    headers = dict(NO_STORE)
    if www_authenticate:
        headers["WWW-Authenticate"] = www_authenticate
    body = error_body(
        env,
        error=error,
        description=description,
        aadsts=aadsts,
        trace_id=trace_id,
        correlation_id=correlation_id,
    )
    return TokenJSONResponse(body, status_code=status, headers=headers)


# --- the request adapter -----------------------------------------------------------------------


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: dict[str, list[str]]) -> None:
        self._datalist = form
        self._data = {k: v[0] for k, v in form.items() if v}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """A token request whose form the route has already read and parsed: Authlib's own request (its
    transport check included), with the form as its payload and our trace and correlation ids."""

    def __init__(
        self,
        uri: str,
        headers: Any,
        form: dict[str, list[str]],
        *,
        trace_id: str,
        correlation_id: str,
    ) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = FormPayload(form)
        self.trace_id = trace_id
        self.correlation_id = correlation_id

    @property
    def form(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data

    @property
    def args(self) -> dict[str, str]:
        return {}


# --- clients and their authentication ----------------------------------------------------------


class OAuthClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, client: tokens.Client, env: Env) -> None:
        self.client = client
        self._env = env

    def __repr__(self) -> str:
        return f"OAuthClient({self.client.app_id})"

    def get_client_id(self) -> str:
        return self.client.app_id

    def get_default_redirect_uri(self) -> str | None:
        return self.client.redirect_uris[0] if self.client.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return tokens.client_secret_matches(self._env, self.client, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        # Every registered application holds a secret, so every one may use client credentials.
        return grant_type == "client_credentials"


def _authenticated(query_client: Any, client_id: str, secret: str, challenge: str) -> OAuthClient:
    client: OAuthClient | None = query_client(client_id)
    if client is None:
        error = oauth_error(
            InvalidClientError,
            700016,
            f"Application with identifier '{quoted(client_id)}' was not found in the directory.",
            status=401,
        )
    elif not client.check_client_secret(secret):
        error = oauth_error(
            InvalidClientError,
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client "
            f"secret value for app '{client.client.app_id}'.",
            status=401,
        )
    else:
        return client
    error.challenge = challenge
    raise error


def authenticate_basic(query_client: Any, request: FormRequest) -> OAuthClient | None:
    if not request.headers.get("Authorization", "").lower().startswith("basic "):
        return None
    try:
        client_id, secret = extract_basic_authorization(request.headers)
    except ValueError:
        # Authlib lets non-ASCII base64 and credentials that are not UTF-8 escape (a 500); neither names
        # a client of ours, so it is the missing-credentials answer below.
        client_id, secret = None, None
    if "client_secret" in request.payload.data:
        raise oauth_error(
            InvalidRequestError, 9002313, "The client used more than one authentication method."
        )
    if not client_id or not secret:
        raise oauth_error(
            InvalidClientError,
            7000218,
            "The Authorization header must carry client_id:client_secret.",
            status=401,
        )
    return _authenticated(query_client, client_id, secret, 'Basic realm="Passbridge"')


def authenticate_post(query_client: Any, request: FormRequest) -> OAuthClient | None:
    data = request.payload.data
    client_id, secret = data.get("client_id"), data.get("client_secret")
    if not client_id and not secret:
        return None
    if not client_id:
        raise missing("client_id")
    if not secret:
        raise oauth_error(
            InvalidClientError,
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            status=401,
        )
    return _authenticated(query_client, client_id, secret, 'Basic realm="Passbridge"')


# --- grants ------------------------------------------------------------------------------------


class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(reversed(CLIENT_AUTH_METHODS))  # Basic first: RFC 6749 2.3.1

    def validate_requested_scope(self) -> None:
        scope = self.request.payload.scope
        if not scope:
            raise missing("scope")
        if not tokens.client_credentials_scope_ok(_current().env, scope):
            raise oauth_error(
                InvalidScopeError,
                1002012,
                f"The provided value for scope {quoted(scope, 200)} is not valid. "
                "Client credential flows must have a scope value with /.default suffixed to "
                "the resource identifier (application ID URI).",
            )

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # Authlib's version logs the token at debug level; this one does not.
        token = self.generate_token(scope=None, include_refresh_token=False)
        return 200, token, self.TOKEN_RESPONSE_HEADER


def app_token(
    grant_type: str,
    client: OAuthClient,
    user: object = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    unit = _current()
    issued = tokens.issue_app_token(unit.tx, unit.env, client.client, issuer=unit.issuer)
    return {
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "ext_expires_in": issued.expires_in,
        "access_token": issued.access_token,
    }


# --- the server --------------------------------------------------------------------------------


class Server(AuthorizationServer):  # type: ignore[misc]
    client_class: type[OAuthClient] = OAuthClient

    def __init__(self) -> None:
        super().__init__()
        self.register_client_auth_method("client_secret_basic", authenticate_basic)
        self.register_client_auth_method("client_secret_post", authenticate_post)
        self.register_grant(ClientCredentials)
        self.register_token_generator("client_credentials", app_token)

    @property
    def grant_types(self) -> list[str]:
        return [grant.GRANT_TYPE for grant, _ in self._token_grants]

    def query_client(self, client_id: str) -> OAuthClient | None:
        unit = _current()
        client = tokens.find_client(unit.tx, client_id)
        return self.client_class(client, unit.env) if client else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained signed JWTs: there is nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners."""

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> JSONResponse:
        return TokenJSONResponse(body, status_code=status, headers={**dict(headers), **NO_STORE})

    def handle_error_response(self, request: FormRequest, error: OAuth2Error) -> JSONResponse:
        aadsts = getattr(error, "aadsts", None)
        description = error.get_error_description() or ""
        if isinstance(error, UnsupportedGrantTypeError) and aadsts is None:
            aadsts, description = (
                70003,
                f"The app requested an unsupported grant type '{quoted(str(error.grant_type))}'.",
            )
        elif isinstance(error, InvalidClientError) and aadsts is None:
            aadsts = 7000216
            description = "'client_assertion', 'client_secret' or 'request' is required for this grant type."
            error.status_code = 401
        challenge = getattr(error, "challenge", None)
        if error.status_code == 401 and challenge is None:
            challenge = 'Basic realm="Passbridge"'
        return error_response(
            _current().env,
            error.status_code,
            error=error.error,
            description=description,
            aadsts=aadsts,
            trace_id=request.trace_id,
            correlation_id=request.correlation_id,
            www_authenticate=challenge,
        )

    def create_token_response(self, request: FormRequest | None = None) -> JSONResponse:
        assert request is not None
        duplicated = next((k for k, v in request.payload.datalist.items() if len(v) > 1), None)
        if duplicated is not None:
            return self.handle_error_response(
                request,
                oauth_error(
                    InvalidRequestError,
                    9000411,
                    "The request is not properly formatted. "
                    f"The parameter '{quoted(duplicated)}' is duplicated.",
                ),
            )
        if not request.payload.grant_type:
            return self.handle_error_response(request, missing("grant_type"))
        response: JSONResponse = super().create_token_response(request)
        return response

    def token_response(self, unit: Unit, request: FormRequest) -> JSONResponse:
        with bound(unit):
            return self.create_token_response(request)


def new_correlation_id(header: str | None) -> str:
    """Entra echoes the caller's client-request-id as correlation_id when it is a GUID."""
    if header:
        try:
            return str(uuid.UUID(header))
        except ValueError:
            pass
    return new_guid()
