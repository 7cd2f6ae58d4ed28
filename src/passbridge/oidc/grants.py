"""The user-facing grants on Authlib: authorization code with PKCE and OpenID Connect, refresh token.

Authlib runs the protocol (parameter checks, client authentication, PKCE, nonce and prompt rules, the
ID token hook); these classes supply storage and token contents from tokens/oidc.py. As in
provider.py, the unit of work of the request in progress is read from the context variable.

Clients: an application registered with redirect URIs may use the code flow. A public client (no
secret) authenticates at the token endpoint with its client_id alone (`none`) and must use PKCE; a
confidential client authenticates with its secret exactly as for client credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from authlib.oidc.core.util import create_half_hash

from passbridge.oidc.provider import (
    CLIENT_AUTH_METHODS,
    FormRequest,
    OAuthClient,
    Server,
    _current,
    missing,
    oauth_error,
    quoted,
)
from passbridge.security.keys import ALGORITHM
from passbridge.tokens import claims, oidc

PUBLIC = "none"
USER_GRANT_AUTH_METHODS = ["client_secret_basic", PUBLIC, "client_secret_post"]
TOKEN_AUTH_METHODS_SUPPORTED = [*CLIENT_AUTH_METHODS, PUBLIC]


def refused(error: oidc.GrantRefused) -> OAuth2Error:
    return oauth_error(InvalidGrantError, error.aadsts, error.description)


@dataclass(frozen=True)
class TokenUser:
    """The user a grant issues tokens to, as the grants' `authenticate_user` returns it: Authlib hands
    this object to the token generator (`user_tokens`) and leaves it on `request.user` for the ID token
    hook, so the pairwise `sub` both tokens carry is worked out once, here, for the grant's client."""

    grantee: oidc.Grantee
    sub: str

    def get_user_id(self) -> str:  # Authlib asks users for this
        return self.grantee.user_id


def token_user(client: OAuthClient, grantee: oidc.Grantee) -> TokenUser:
    app_id = client.get_client_id()
    return TokenUser(grantee, claims.pairwise_sub(_current().env, app_id, grantee.user_id))


class OidcClient(OAuthClient):
    """An application as the code flow sees it."""

    @property
    def is_public(self) -> bool:
        # A public client's secret_hash is empty (store/models.py), which no secret matches.
        return not self.client.secret_hash

    @property
    def client_metadata(self) -> dict[str, Any]:
        # RP-initiated logout: the registered redirect URIs double as post-logout redirect URIs.
        return {"post_logout_redirect_uris": list(self.client.redirect_uris)}

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            raise missing("scope")
        try:
            return oidc.normalise_scope(_current().env, scope)
        except oidc.ScopeRefused as exc:
            raise oauth_error(
                InvalidScopeError,
                70011,
                f"The provided value for the input parameter 'scope' is not valid. "
                f"The scope '{quoted(exc.scope, 200)}' is not supported.",
            ) from None

    def check_client_secret(self, client_secret: str) -> bool:
        return not self.is_public and super().check_client_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if method == PUBLIC:
            return self.is_public
        return not self.is_public and method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and bool(self.client.redirect_uris)

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return not self.is_public
        return grant_type in ("authorization_code", "refresh_token") and bool(self.client.redirect_uris)


def authenticate_public(query_client: Any, request: FormRequest) -> OidcClient | None:
    """`none`: a public client names itself and proves nothing (PKCE protects its codes)."""
    data = request.payload.data
    client_id = data.get("client_id")
    if not client_id or "client_secret" in data or request.headers.get("Authorization"):
        return None
    client: OidcClient | None = query_client(client_id)
    if client is None:
        error = oauth_error(
            InvalidClientError,
            700016,
            f"Application with identifier '{quoted(client_id)}' was not found in the directory.",
            status=401,
        )
        error.challenge = 'Basic realm="Passbridge"'
        raise error
    return client if client.is_public else None


# --- authorization code ----------------------------------------------------------------------------


class Pkce(CodeChallenge):  # type: ignore[misc]
    """S256 only: `plain` protects nothing against an attacker who reads the authorization request."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and not data.get("code_challenge_method"):
            # RFC 7636 would default to plain, which we refuse; say so rather than guess S256.
            raise oauth_error(
                InvalidRequestError, 9002325, "code_challenge_method is required and must be 'S256'."
            )
        if not data.get("code_challenge") and grant.request.client.is_public:
            raise oauth_error(
                InvalidRequestError,
                9002325,
                "Proof Key for Code Exchange is required for public clients: send code_challenge "
                "with code_challenge_method=S256.",
            )
        try:
            super().validate_code_challenge(grant, redirect_uri)
        except OAuth2Error as error:
            error.aadsts = 9002325
            raise

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        try:
            super().validate_code_verifier(grant, result)
        except InvalidGrantError as error:
            error.aadsts = 501481
            error.description = (
                "The code_verifier does not match the code_challenge supplied in the authorization request."
            )
            raise
        except OAuth2Error as error:
            error.aadsts = 9002325
            raise


class AuthorizationCode(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = USER_GRANT_AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 48

    def validate_authorization_request(self) -> str:
        if not self.request.payload.redirect_uri:
            # OpenID Connect requires it; without it there is nowhere trustworthy to answer.
            raise missing("redirect_uri")
        redirect_uri: str = super().validate_authorization_request()
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        unit = _current()
        data = request.payload.data
        oidc.issue_code(
            unit.tx,
            unit.env,
            code=code,
            client_id=request.client.get_client_id(),
            signed_in=request.user,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce") or None,
            code_challenge=data.get("code_challenge") or None,
            code_challenge_method=data.get("code_challenge_method") or None,
            issuer=unit.issuer,
        )

    def query_authorization_code(self, code: str, client: OidcClient) -> oidc.CodeGrant:
        unit = _current()
        try:
            found = oidc.find_code(unit.tx, unit.env, code, client.get_client_id(), issuer=unit.issuer)
        except oidc.GrantRefused as exc:
            raise refused(exc) from None
        if self.request.payload.redirect_uri != found.redirect_uri:
            raise oauth_error(
                InvalidGrantError, 70000, "The redirect_uri does not match the one the code was issued for."
            )
        return found

    def authenticate_user(self, authorization_code: oidc.CodeGrant) -> TokenUser:
        return token_user(self.request.client, authorization_code.grantee)

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # Authlib's version logs the token at debug level and deletes the code after issuing; this
        # one uses the code (once, atomically) before anything is issued.
        unit = _current()
        code: oidc.CodeGrant = self.request.authorization_code
        try:
            oidc.redeem_code(unit.tx, unit.env, code)
        except oidc.GrantRefused as exc:
            raise refused(exc) from None
        user = self.request.user = self.authenticate_user(code)
        token = self.generate_token(
            user=user,
            scope=code.scope,
            include_refresh_token=self.request.client.check_grant_type("refresh_token"),
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def delete_authorization_code(self, authorization_code: oidc.CodeGrant) -> None:
        """Codes are marked used in create_token_response, never deleted (reuse must be recognised)."""


class IdToken(OpenIDToken):  # type: ignore[misc]
    """The ID token, signed by our key service rather than a key handed to Authlib. Authlib's own
    encode_id_token asks generate_user_info for the claims; ours builds every claim itself (the pairwise
    sub needs the client id, which that hook is not given), so that hook is never called."""

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        unit = _current()
        at_hash = create_half_hash(token["access_token"], ALGORITHM)
        user: TokenUser = request.user
        return claims.id_token(
            unit.tx,
            unit.env,
            user.grantee,
            request.client.get_client_id(),
            token["scope"],
            sub=user.sub,
            at_hash=at_hash.decode() if at_hash else None,
            issuer=unit.issuer,
        )


class IdTokenOnCode(OpenIDCode, IdToken):  # type: ignore[misc]
    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Replay is caught by single-use codes and the RP's own nonce check; nonces are not indexed.
        return False


# --- refresh tokens --------------------------------------------------------------------------------


class RefreshToken(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = USER_GRANT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> oidc.RefreshGrant:
        unit = _current()
        try:
            return oidc.find_refresh_token(
                unit.tx, unit.env, refresh_token, self.request.client.get_client_id(), issuer=unit.issuer
            )
        except oidc.GrantRefused as exc:
            raise refused(exc) from None

    def _validate_token_scope(self, token: oidc.RefreshGrant) -> None:
        scope = self.request.payload.scope
        if not scope:
            self.request.scope = token.scope
            return
        asked = self.request.client.get_allowed_scope(scope)
        if not set(asked.split()) <= set(token.scope.split()):
            raise oauth_error(
                InvalidScopeError, 70011, "The requested scope exceeds the scope originally granted."
            )
        self.request.scope = asked

    def issue_token(self, user: TokenUser, refresh_token: oidc.RefreshGrant) -> dict[str, Any]:
        token: dict[str, Any] = self.generate_token(
            user=user, scope=self.request.scope, include_refresh_token=True
        )
        return token

    def authenticate_user(self, refresh_token: oidc.RefreshGrant) -> TokenUser:
        return token_user(self.request.client, refresh_token.grantee)

    @hooked  # type: ignore[untyped-decorator]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        unit = _current()
        grant: oidc.RefreshGrant = self.request.refresh_token
        try:
            oidc.rotate(unit.tx, unit.env, grant)
        except oidc.GrantRefused as exc:
            raise refused(exc) from None
        user = self.request.user = self.authenticate_user(grant)
        token = self.issue_token(user, grant)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def revoke_old_credential(self, refresh_token: oidc.RefreshGrant) -> None:
        """Done by rotate() before the new token is issued."""


# --- tokens ----------------------------------------------------------------------------------------


def user_tokens(
    grant_type: str,
    client: OidcClient,
    user: TokenUser,
    scope: str,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    unit = _current()
    app_id = client.get_client_id()
    try:
        access, lifetime = claims.access_token(
            unit.tx,
            unit.env,
            user.grantee,
            app_id,
            scope,
            sub=user.sub,
            issuer=unit.issuer,
        )
    except oidc.GrantRefused as exc:
        raise refused(exc) from None
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    }
    if include_refresh_token and "offline_access" in scope.split():
        token["refresh_token"] = oidc.new_refresh_token(
            unit.tx, unit.env, user.grantee, app_id, scope, issuer=unit.issuer
        )
    return token


class OidcServer(Server):
    """The authorization server with the user grants beside client credentials."""

    client_class = OidcClient

    def __init__(self) -> None:
        super().__init__()
        self.register_client_auth_method(PUBLIC, authenticate_public)
        self.register_grant(AuthorizationCode, [Pkce(required=True), IdTokenOnCode()])
        self.register_grant(RefreshToken, [IdToken()])
        self.register_token_generator("authorization_code", user_tokens)
        self.register_token_generator("refresh_token", user_tokens)
