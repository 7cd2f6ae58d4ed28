"""What tokens from a user's sign-in say: the delegated access token, the ID token, userinfo.

`sub` is pairwise, as Entra's is: stable per user and application, different between applications, so
two relying parties cannot join their records on it; `oid` is the user's id everywhere. Access and ID
tokens never outlive the sign-in (`Grantee.not_after`; tokens/oidc.py explains the cap).
"""

from __future__ import annotations

import base64
from typing import Any

from passbridge.directory import queries as directory_store
from passbridge.ids import new_guid
from passbridge.services.context import Env
from passbridge.store.models import User
from passbridge.store.tx import Tx
from passbridge.tokens import service as tokens
from passbridge.tokens.oidc import Grantee, GrantRefused


def pairwise_sub(env: Env, app_id: str, user_id: str) -> str:
    digest = bytes.fromhex(env.keeper.keyed_hash(f"sub|{app_id.lower()}|{user_id}"))
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_lifetime(env: Env, grantee: Grantee) -> tuple[int, int]:
    """(iat, exp) for an access or ID token: the configured lifetime, cut at the session's end."""
    now = env.clock.now()
    iat = int(now.timestamp())
    exp = min(iat + env.settings.access_token_minutes * 60, int(grantee.not_after.timestamp()))
    if exp <= iat:
        raise GrantRefused(70008, "The sign-in session behind this grant has ended. Sign in again.")
    return iat, exp


def access_token(
    tx: Tx, env: Env, grantee: Grantee, client_id: str, scope: str, *, sub: str, issuer: str
) -> tuple[str, int]:
    """A delegated access token for Passbridge's Graph API (and the userinfo endpoint); `sub` is
    `pairwise_sub(env, client_id, grantee.user_id)`, which a grant works out once for both its tokens;
    `issuer` is the authority's the token endpoint was asked through (tokens/service.py `issuer_of`)."""
    iat, exp = token_lifetime(env, grantee)
    scp = [s for s in scope.split() if s != "offline_access"]
    claims = {
        "iss": issuer,
        "aud": env.settings.base_url,
        "sub": sub,
        "oid": grantee.user_id,
        "tid": tokens.tenant_id(tx, env),
        "azp": client_id,
        "appid": client_id,
        "idtyp": "user",
        "scp": " ".join(scp),
        "amr": list(grantee.amr),
        "acr": grantee.acr,
        "auth_time": int(grantee.auth_time.timestamp()),
        "name": grantee.display_name,
        "preferred_username": grantee.user_principal_name,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": new_guid(),
        "ver": "2.0",
    }
    if grantee.session_id:
        claims["sid"] = grantee.session_id
    return tokens.sign_claims(tx, env, claims), exp - iat


def user_claims(
    env: Env, grantee_or_user: Grantee | User, client_id: str, scope: str, *, sub: str | None = None
) -> dict[str, Any]:
    """sub plus what `profile` and `email` release: the ID token's and userinfo's user claims."""
    if sub is None:
        user_id = grantee_or_user.user_id if isinstance(grantee_or_user, Grantee) else grantee_or_user.id
        sub = pairwise_sub(env, client_id, user_id)
    granted = scope.split()
    claims: dict[str, Any] = {"sub": sub}
    if "profile" in granted:
        claims["name"] = grantee_or_user.display_name
        claims["preferred_username"] = grantee_or_user.user_principal_name
    if "email" in granted and grantee_or_user.mail:
        claims["email"] = grantee_or_user.mail
    return claims


def id_token(
    tx: Tx,
    env: Env,
    grantee: Grantee,
    client_id: str,
    scope: str,
    *,
    sub: str,
    at_hash: str | None,
    issuer: str,
) -> str:
    iat, exp = token_lifetime(env, grantee)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "azp": client_id,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "auth_time": int(grantee.auth_time.timestamp()),
        "amr": list(grantee.amr),
        "acr": grantee.acr,
        "oid": grantee.user_id,
        "tid": tokens.tenant_id(tx, env),
        "ver": "2.0",
        **user_claims(env, grantee, client_id, scope, sub=sub),
    }
    if grantee.nonce:
        claims["nonce"] = grantee.nonce
    if grantee.session_id:
        claims["sid"] = grantee.session_id
    if at_hash:
        claims["at_hash"] = at_hash
    return tokens.sign_claims(tx, env, claims)


# --- userinfo --------------------------------------------------------------------------------------


class UserInfoRefused(Exception):
    """RFC 6750 section 3.1: `error` goes in the WWW-Authenticate challenge."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def userinfo(tx: Tx, env: Env, bearer: str) -> dict[str, Any]:
    """OpenID Connect Core 5.3: sub (as in the ID token) plus the claims `profile`/`email` release."""
    try:
        principal = tokens.principal_from_token(tx, env, bearer)
    except tokens.TokenRejected as exc:
        raise UserInfoRefused(401, "invalid_token", exc.message) from None
    if principal.kind != "user" or principal.id is None:
        raise UserInfoRefused(401, "invalid_token", "The token was not issued to a signed-in user.")
    if "openid" not in principal.scopes:
        raise UserInfoRefused(403, "insufficient_scope", "The token was not granted the 'openid' scope.")
    user = directory_store.user_by_id(tx, principal.id)
    assert user is not None  # principal_from_token found it
    return user_claims(env, user, principal.app_id or "", " ".join(sorted(principal.scopes)))
