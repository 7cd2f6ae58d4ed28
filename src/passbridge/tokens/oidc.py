"""The OpenID Connect provider's rules: scopes, authorization codes, refresh tokens, sign-out.

Authlib (oidc/grants.py) runs the protocol; this module decides what is stored (tokens/claims.py
what the tokens say).

- Codes and refresh tokens are random strings; only their keyed hash is stored. A code lives
  CODE_LIFETIME and is redeemed once (a conditional UPDATE); presenting it again revokes the refresh
  tokens issued from it (RFC 6749 section 4.1.2). Those tokens form one family whose id is derived
  from the code's hash, so the code row needs no pointer to them.
- Refresh tokens rotate: each use marks the presented token used and returns a new one in the same
  family. Presenting a used token again means two parties hold the chain, so the whole family is
  revoked (OAuth 2.0 Security BCP, refresh token rotation).
- Codes and refresh tokens belong to the authority they were issued through (the root issuer, or
  `<base>/<tenant>/v2.0` and its aliases: tokens/service.py), as a Keycloak realm's do: the stored keyed
  hash covers the authority with the value (`grant_hash`), so presented through another authority one
  matches nothing and is refused like an unknown one, and every token a grant issues carries the
  issuer of the authority it was issued through. The root authority's hashes are the plain keyed hash.
- Everything a sign-in issues ends no later than its session (`not_after` = the session's
  `expires_at`, which a pass sign-in caps at the pass's end): refresh tokens expire by then, access
  and ID tokens carry no later `exp`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from passbridge.directory import queries as directory_store
from passbridge.ids import new_guid
from passbridge.services.context import Env
from passbridge.signin import queries as signin_store
from passbridge.signin.sessions import SessionView
from passbridge.store.models import AuthorizationCodeRow, User, UserSession
from passbridge.store.tx import Tx
from passbridge.tokens import oidc_queries as store
from passbridge.tokens import service as tokens

CODE_LIFETIME = timedelta(seconds=60)
# Used codes and tokens are kept this long past expiry, so a late replay is still recognised.
PURGE_GRACE = timedelta(days=1)

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
# Delegated Graph permissions Passbridge's Graph API understands (Graph's names).
DELEGATED_SCOPES = {
    s.casefold(): s
    for s in (
        "User.Read",
        "User.ReadWrite",
        "User.ReadBasic.All",
        "User.Read.All",
        "User.ReadWrite.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "UserAuthenticationMethod.Read",
        "UserAuthenticationMethod.ReadWrite",
        "UserAuthenticationMethod.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "UserAuthMethod-TAP.Read",
        "UserAuthMethod-TAP.ReadWrite",
        "UserAuthMethod-TAP.Read.All",
        "UserAuthMethod-TAP.ReadWrite.All",
        "Policy.Read.All",
        "Policy.Read.AuthenticationMethod",
        "Policy.ReadWrite.AuthenticationMethod",
        "AuditLog.Read.All",
    )
}
_FAMILY_NAMESPACE = uuid.UUID("4f1f5d3e-8b61-4d5e-9a8e-6f0c3c1b7a10")


class ScopeRefused(Exception):
    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


class GrantRefused(Exception):
    """A code or refresh token cannot be used (answered as invalid_grant with Entra's AADSTS number)."""

    def __init__(self, aadsts: int, description: str) -> None:
        super().__init__(description)
        self.aadsts = aadsts
        self.description = description


def normalise_scope(env: Env, scope: str | None) -> str:
    """The granted scope: OpenID scopes as they are, Graph scopes by their short names whether asked
    for bare (`User.Read`), under Graph's resource or under ours. Raises ScopeRefused for others."""
    out: list[str] = []
    prefixes = (*(r + "/" for r in tokens.GRAPH_RESOURCES), env.settings.base_url + "/")
    for item in (scope or "").split():
        name = item
        for prefix in prefixes:
            if item.lower().startswith(prefix.lower()):
                name = item[len(prefix) :]
                break
        if name in OIDC_SCOPES and name == item:
            value = name
        elif name.casefold() in DELEGATED_SCOPES:
            value = DELEGATED_SCOPES[name.casefold()]
        else:
            raise ScopeRefused(item)
        if value not in out:
            out.append(value)
    return " ".join(out)


def grant_hash(env: Env, value: str, issuer: str | None) -> str:
    """The stored keyed hash of a code or refresh token issued through `issuer`'s authority (None: the
    root one). The authority is inside the hash, so a value is found only through that authority."""
    if issuer is None or issuer == env.settings.base_url:
        return env.keeper.keyed_hash(value)
    return env.keeper.keyed_hash(f"grant|{issuer}|{value}")


def code_family(code_hash: str) -> str:
    return str(uuid.uuid5(_FAMILY_NAMESPACE, code_hash))


# --- who a grant stands for ------------------------------------------------------------------------


@dataclass(frozen=True)
class Grantee:
    """The signed-in user behind a code or refresh token, with what the sign-in proved."""

    user_id: str
    user_principal_name: str
    display_name: str
    mail: str | None
    session_id: str | None
    auth_time: datetime
    amr: tuple[str, ...]
    acr: str
    not_after: datetime
    family_id: str
    nonce: str | None = None

    def get_user_id(self) -> str:  # Authlib asks users for this
        return self.user_id


@dataclass(frozen=True)
class CodeGrant:
    code_hash: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    grantee: Grantee

    # Authlib's AuthorizationCodeMixin and CodeChallenge read these.
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.grantee.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.grantee.acr

    def get_amr(self) -> list[str]:
        return list(self.grantee.amr)


@dataclass(frozen=True)
class RefreshGrant:
    id: str
    client_id: str
    scope: str
    grantee: Grantee

    def get_scope(self) -> str:
        return self.scope

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client_id)


def _grantee(
    user: User,
    *,
    session_id: str | None,
    auth_time: datetime,
    amr: list[str],
    acr: str,
    not_after: datetime,
    family_id: str,
    nonce: str | None = None,
) -> Grantee:
    return Grantee(
        user.id,
        user.user_principal_name,
        user.display_name,
        user.mail,
        session_id,
        auth_time,
        tuple(amr),
        acr,
        not_after,
        family_id,
        nonce,
    )


def _check_user(user: User | None, auth_time: datetime) -> User:
    if user is None or not user.account_enabled:
        raise GrantRefused(50057, "The user account is disabled or no longer exists.")
    if auth_time < user.sessions_valid_from:
        raise GrantRefused(
            50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed."
        )
    return user


# --- authorization codes ---------------------------------------------------------------------------


def issue_code(
    tx: Tx,
    env: Env,
    *,
    code: str,
    client_id: str,
    signed_in: SessionView,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    issuer: str | None = None,
) -> None:
    now = env.clock.now()
    store.add_code(
        tx,
        AuthorizationCodeRow(
            code_hash=grant_hash(env, code, issuer),
            client_id=client_id,
            user_id=signed_in.user_id,
            session_id=signed_in.id,
            redirect_uri=redirect_uri,
            scope=scope,
            nonce=nonce,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            auth_time=signed_in.auth_time,
            amr=list(signed_in.amr),
            acr=signed_in.acr,
            not_after=signed_in.expires_at,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        ),
    )
    store.purge_codes(tx, now - PURGE_GRACE)


def find_code(tx: Tx, env: Env, code: str, client_id: str, *, issuer: str | None = None) -> CodeGrant:
    """The unexpired, unused code issued to `client_id` through `issuer`'s authority. A used code
    revokes its tokens."""
    if len(code) > 256:
        raise GrantRefused(9002313, "The authorization code is malformed.")
    now = env.clock.now()
    code_hash = grant_hash(env, code, issuer)
    row = store.code_by_hash(tx, code_hash)
    if row is None or row.client_id != client_id:
        raise GrantRefused(70000, "The provided authorization code is invalid.")
    if row.used_at is not None:
        store.revoke_family(tx, code_family(code_hash), now)
        raise GrantRefused(
            54005, "OAuth2 Authorization code was already redeemed, please retry with a new code."
        )
    if row.expires_at <= now:
        raise GrantRefused(70008, "The provided authorization code has expired.")
    user = _check_user(directory_store.user_by_id(tx, row.user_id), row.auth_time)
    if row.not_after <= now or (row.session_id and _session_ended(tx, row.session_id)):
        raise GrantRefused(70008, "The sign-in session behind this authorization code has ended.")
    grantee = _grantee(
        user,
        session_id=row.session_id,
        auth_time=row.auth_time,
        amr=row.amr,
        acr=row.acr,
        not_after=row.not_after,
        family_id=code_family(code_hash),
        nonce=row.nonce,
    )
    return CodeGrant(
        code_hash,
        row.client_id,
        row.redirect_uri,
        row.scope,
        row.nonce,
        row.code_challenge,
        row.code_challenge_method,
        grantee,
    )


def _session_ended(tx: Tx, session_id: str) -> bool:
    row = tx.session.get(UserSession, session_id)
    return row is None or row.ended_at is not None


def redeem_code(tx: Tx, env: Env, grant: CodeGrant) -> None:
    """Use the code once; a racing second redemption loses here and revokes what the winner got."""
    now = env.clock.now()
    if not store.use_code(tx, grant.code_hash, now):
        store.revoke_family(tx, grant.grantee.family_id, now)
        raise GrantRefused(
            54005, "OAuth2 Authorization code was already redeemed, please retry with a new code."
        )


# --- refresh tokens --------------------------------------------------------------------------------


MAX_REFRESH_TOKEN_LENGTH = 256


def find_refresh_token(
    tx: Tx,
    env: Env,
    value: str,
    client_id: str,
    *,
    issuer: str | None = None,
) -> RefreshGrant:
    """The usable refresh token issued through `issuer`'s authority; a used one revokes its whole family
    (reuse detection). `tx` is the grant's write transaction."""
    if len(value) > MAX_REFRESH_TOKEN_LENGTH:
        raise GrantRefused(9002313, "The refresh token is malformed.")
    now = env.clock.now()
    row = store.refresh_token_with_user(tx, grant_hash(env, value, issuer))
    if row is None or row.client_id != client_id:
        raise GrantRefused(
            9002313,
            "Invalid refresh token: it is malformed or not valid for this client or this authority.",
        )
    if not row.account_enabled:
        # First: disabling revokes the user's tokens too, and the disabled account is the reason to say.
        raise GrantRefused(50057, "The user account is disabled or no longer exists.")
    if row.revoked_at is not None:
        raise GrantRefused(
            50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed."
        )
    if row.used_at is not None:
        store.revoke_family(tx, row.family_id, now)
        raise GrantRefused(
            50173,
            "The refresh token was already used; every token of this sign-in is now revoked. Sign in again.",
        )
    if row.expires_at <= now or row.not_after <= now:
        raise GrantRefused(700082, "The refresh token has expired. Sign in again.")
    if row.auth_time < row.sessions_valid_from:
        raise GrantRefused(
            50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed."
        )
    grantee = Grantee(
        row.user_id,
        row.user_principal_name,
        row.display_name,
        row.mail,
        row.session_id,
        row.auth_time,
        tuple(row.amr),
        row.acr,
        row.not_after,
        row.family_id,
    )
    return RefreshGrant(row.id, row.client_id, row.scope, grantee)


def rotate(tx: Tx, env: Env, grant: RefreshGrant) -> None:
    now = env.clock.now()
    if not store.use_refresh_token(tx, grant.id, now):
        # Another request rotated it first: two holders of one chain.
        store.revoke_family(tx, grant.grantee.family_id, now)
        raise GrantRefused(
            50173, "The refresh token was already used; every token of this sign-in is revoked."
        )


def new_refresh_token(
    tx: Tx,
    env: Env,
    grantee: Grantee,
    client_id: str,
    scope: str,
    *,
    issuer: str | None = None,
) -> str:
    now = env.clock.now()
    value = secrets.token_urlsafe(48)
    store.add_refresh_token(
        tx,
        {
            "id": new_guid(),
            "token_hash": grant_hash(env, value, issuer),
            "family_id": grantee.family_id,
            "client_id": client_id,
            "user_id": grantee.user_id,
            "session_id": grantee.session_id,
            "scope": scope,
            "auth_time": grantee.auth_time,
            "amr": list(grantee.amr),
            "acr": grantee.acr,
            "not_after": grantee.not_after,
            "created_at": now,
            "expires_at": min(now + timedelta(days=env.settings.refresh_token_days), grantee.not_after),
            "used_at": None,
            "revoked_at": None,
        },
    )
    return value


# --- sign-out --------------------------------------------------------------------------------------


def sign_out(tx: Tx, env: Env, session_ids: set[str]) -> None:
    """End browser sessions and revoke every refresh token issued from them."""
    now = env.clock.now()
    for session_id in sorted(session_ids):
        signin_store.end_session(tx, session_id, now)
        store.revoke_session_tokens(tx, session_id, now)
