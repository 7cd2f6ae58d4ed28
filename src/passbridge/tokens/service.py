"""Access tokens: authenticating clients, minting tokens, and turning a presented token back into a principal.

The grant path is the hottest in the service, so what never changes is cached per environment
(`Env.token_cache`, tokens/cache.py; ages on the environment's clock):
the tenant id (one tenant per store, never renamed or removed) and the unsealed private keys (a kid
names one key forever). The signing-key list is a snapshot refreshed every KEY_SNAPSHOT_TTL seconds, and
sooner when a token names a kid the snapshot lacks; rotation publishes keys ahead of use (longer than the
TTL), so every process sees a key before it signs. Applications are read on every grant, never cached,
so a removed application or a replaced secret takes effect on the next request.

Presented tokens: a token whose signature checked out is remembered (bounded), so a client reusing its
token for the hour it lasts pays for ES256 once; the times, issuer (any of the tenant's authorities:
`tenant_issuers`), audience and that its kid is still published are checked again on every use. Graph
calls with an application token may also rely on the application having existed within the last
APP_CHECK_TTL seconds (`principal_without_store`): that lets the Graph edge answer without a database
round trip and a threadpool hop, and the price is that an application removed by another process can keep
reading for at most that long with tokens it already holds. Grants never use it.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from joserfc.jwk import KeySet

from passbridge.directory import queries as directory_store
from passbridge.directory.rules import Role
from passbridge.ids import new_guid
from passbridge.security import keys as jose
from passbridge.services.context import Env, Principal, token_amr, token_auth_time
from passbridge.store.tx import Tx
from passbridge.tokens import client_queries as client_store
from passbridge.tokens.cache import CachedKey, SeenApp, TokenCache

KEY_SNAPSHOT_TTL = 30.0
# A token naming an unknown kid refreshes the snapshot at most this often, so tokens with made-up
# kids cannot turn every request into a key query.
UNKNOWN_KID_REFRESH_INTERVAL = 1.0

# How long a Graph call may rely on having seen an application token's application in the store
# (see the module docstring); a few seconds, so a removal elsewhere takes effect almost at once.
APP_CHECK_TTL = 2.0
# Remembered signature checks; the cache is cleared when full (tokens last an hour, clients reuse them).
VERIFIED_TOKENS_MAX = 4096

# Microsoft Graph's resource, by URI and by application id: unmodified Graph scripts ask for these.
GRAPH_RESOURCES = ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000")


class TokenRejected(Exception):
    """A presented token cannot be used; `message` follows Graph's wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


class AppIdentity(Protocol):
    """What a client-credentials token says about its application (an Application row or a Client)."""

    @property
    def id(self) -> str: ...
    @property
    def app_id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def permissions(self) -> list[str] | tuple[str, ...]: ...


@dataclass(frozen=True)
class Client:
    """A registered application as the token endpoint sees it."""

    id: str
    app_id: str
    display_name: str
    permissions: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    secret_hash: str = field(repr=False)
    # The authentication strength every sign-in to this app must reach (methods/strength.py), or None.
    required_strength: str | None = None


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def find_client(tx: Tx, client_id: str) -> Client | None:
    """The application whose appId (Graph's name for the client id) is `client_id`."""
    if not is_guid(client_id):
        return None
    row = client_store.client_row(tx, client_id.lower())
    return client_from_row(row) if row is not None else None


def client_from_row(row: client_store.ClientRow) -> Client:
    return Client(
        row.id,
        row.app_id,
        row.display_name,
        tuple(row.permissions or ()),
        tuple(row.redirect_uris or ()),
        row.secret_hash,
        row.required_strength,
    )


def client_secret_matches(env: Env, client: Client, secret: str) -> bool:
    return env.keeper.keyed_hash_matches(secret, client.secret_hash)


def client_credentials_scope_ok(env: Env, scope: str) -> bool:
    """Client credentials take exactly one `<resource>/.default`: ours, or Microsoft Graph's, which we
    serve under our base URL so that unmodified Graph scripts work."""
    parts = scope.split()
    if len(parts) != 1 or not parts[0].endswith("/.default"):
        return False
    resource = parts[0].removesuffix("/.default")
    return resource == env.settings.base_url or resource in GRAPH_RESOURCES


# --- authorities -----------------------------------------------------------------------------------

# Entra's names for "any tenant" and "any work account": with one tenant per store both name ours.
TENANT_ALIASES = ("organizations", "common")
AUTHORITY_SUFFIX = "/v2.0"


def issuer_of(env: Env, authority: str | None) -> str:
    """The issuer of an authority: the base URL for the root one (None), else Entra's v2.0 form,
    `<base>/<authority>/v2.0`, for the tenant id or an alias (lowercase, as `authority_of` gives)."""
    base = env.settings.base_url
    return base if authority is None else f"{base}/{authority}{AUTHORITY_SUFFIX}"


def authority_of(tx: Tx, env: Env, segment: str) -> str | None:
    """The authority a path's tenant segment names (the tenant id or an alias, lowercase), or None for a
    segment that names no tenant of this store."""
    canonical = segment.lower()
    if canonical in TENANT_ALIASES:
        return canonical
    tenant = tenant_id(tx, env)
    return canonical if tenant is not None and canonical == tenant.lower() else None


def tenant_issuers(env: Env, tenant: str | None) -> frozenset[str]:
    """Every issuer of the tenant: tokens from any of its authorities are good for Graph, userinfo and
    logout (a token is the tenant's whichever authority the client happened to use)."""
    names = [*TENANT_ALIASES, *([tenant.lower()] if tenant else [])]
    return frozenset([env.settings.base_url, *(issuer_of(env, n) for n in names)])


def issued_here(env: Env, issuer: object, tenant: str | None) -> bool:
    return isinstance(issuer, str) and issuer in tenant_issuers(env, tenant)


# --- keys and per-store facts, cached -------------------------------------------------------------


def _refresh_keys(cache: TokenCache, tx: Tx) -> None:
    rows = client_store.key_rows(tx, now=cache.clock.now())
    cache.set_keys(
        tuple(
            CachedKey(r.kid, dict(r.public_jwk), r.private_jwk_sealed, r.activates_at, r.retired_at)
            for r in rows
        )
    )


def _key_set(cache: TokenCache, keys: list[CachedKey]) -> KeySet:
    """The published keys imported once per distinct set of kids."""
    kids = tuple(k.kid for k in keys)
    imported = cache.key_sets.get(kids)
    if imported is None:
        imported = KeySet.import_key_set({"keys": [k.public_jwk for k in keys]})
        with cache.lock:
            cache.key_sets[kids] = imported
    return imported


def _snapshot(cache: TokenCache, tx: Tx) -> tuple[CachedKey, ...]:
    if not cache.fresh(cache.keys_at, KEY_SNAPSHOT_TTL):
        _refresh_keys(cache, tx)
    return cache.keys


def reset_key_cache(env: Env) -> None:
    """Forget cached keys, tenant id and verified tokens as a new process would (tests that rotate keys)."""
    env.token_cache.clear()


def tenant_id(tx: Tx, env: Env) -> str | None:
    cache = env.token_cache
    if cache.tenant_id is None:
        cache.tenant_id = client_store.tenant_id(tx)
    return cache.tenant_id


def _active(keys: tuple[CachedKey, ...], now: datetime) -> CachedKey | None:
    # The newest key that has activated signs; keys arrive newest first.
    return next((k for k in keys if k.activates_at <= now and k.published_at(now)), None)


def _signing_key(tx: Tx, env: Env) -> jose.Signer:
    cache = env.token_cache
    now = env.clock.now()
    key = _active(_snapshot(cache, tx), now)
    if key is None:
        _refresh_keys(cache, tx)
        key = _active(cache.keys, now)
    if key is None:
        raise RuntimeError("no active signing key; run 'passbridge init'")
    signer = cache.private.get(key.kid)
    if signer is None:
        signer = jose.Signer(jose.load_private(env.keeper, key.kid, key.sealed))
        with cache.lock:
            cache.private[key.kid] = signer
    return signer


def _published(tx: Tx, env: Env, *, want_kid: str | None) -> KeySet:
    cache = env.token_cache
    now = env.clock.now()
    keys = _snapshot(cache, tx)
    unknown = want_kid is not None and not any(k.kid == want_kid for k in keys)
    if unknown and not cache.fresh(cache.keys_at, UNKNOWN_KID_REFRESH_INTERVAL):
        _refresh_keys(cache, tx)
        keys = cache.keys
    return _key_set(cache, [k for k in keys if k.published_at(now)])


def sign_claims(tx: Tx, env: Env, claims: dict[str, Any]) -> str:
    return _signing_key(tx, env).sign(claims)


def issue_app_token(tx: Tx, env: Env, app: AppIdentity, *, issuer: str | None = None) -> IssuedToken:
    """A client-credentials access token: Graph's `roles` carry the application permissions. `issuer`
    is the authority's whose token endpoint was asked (the root issuer when None)."""
    now = int(env.clock.now().timestamp())
    lifetime = env.settings.access_token_minutes * 60
    claims = {
        "iss": issuer or env.settings.base_url,
        "aud": env.settings.base_url,
        "sub": app.id,
        "oid": app.id,
        "tid": tenant_id(tx, env),
        "appid": app.app_id,
        "azp": app.app_id,
        "app_displayname": app.display_name,
        "idtyp": "app",
        "roles": list(app.permissions),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": new_guid(),
        "ver": "2.0",
    }
    return IssuedToken(sign_claims(tx, env, claims), lifetime)


def _kid_of(token: str) -> str | None:
    try:
        header = token.split(".", 1)[0]
        data = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = data.get("kid") if isinstance(data, dict) else None
    return kid if isinstance(kid, str) else None


def _claims_checked(claims: dict[str, Any], env: Env, now: datetime, tenant: str | None) -> dict[str, Any]:
    """The per-use checks of a token whose signature is known good. Any authority of the tenant
    (`tenant_issuers`) may have issued it; the audience is always the base URL (our Graph API)."""
    try:
        jose.check_times(claims, now=now)
    except jose.TokenInvalid as exc:
        if "expired" in str(exc):
            raise TokenRejected("Lifetime validation failed, the token is expired.") from None
        raise TokenRejected("Access token validation failure.") from None
    if not issued_here(env, claims.get("iss"), tenant):
        raise TokenRejected("Access token validation failure. Invalid issuer.")
    if claims.get("aud") != env.settings.base_url:
        raise TokenRejected("Access token validation failure. Invalid audience.")
    return claims


def _published_now(cache: TokenCache, kid: str, now: datetime) -> bool:
    return any(k.kid == kid and k.published_at(now) for k in cache.keys)


def _verified_claims(tx: Tx, env: Env, token: str) -> dict[str, Any]:
    cache = env.token_cache
    now = env.clock.now()
    kid = _kid_of(token)
    published = _published(tx, env, want_kid=kid)
    tenant = tenant_id(tx, env)
    seen = cache.verified.get(token)
    if seen is not None and _published_now(cache, seen[0], now):
        return _claims_checked(seen[1], env, now, tenant)
    try:
        claims = jose.verify_signature(token, published)
    except jose.TokenInvalid:
        raise TokenRejected("Access token validation failure.") from None
    if kid is not None:
        if len(cache.verified) >= VERIFIED_TOKENS_MAX:
            cache.verified.clear()
        cache.verified[token] = (kid, claims)
    return _claims_checked(claims, env, now, tenant)


def _app_principal(app: SeenApp, claims: dict[str, Any], ip_address: str | None) -> Principal:
    return Principal(
        kind="application",
        id=app.id,
        display_name=app.display_name,
        app_id=app.app_id,
        app_permissions=frozenset(str(r) for r in claims.get("roles", [])),
        ip_address=ip_address,
    )


def principal_without_store(env: Env, token: str, *, ip_address: str | None = None) -> Principal | None:
    """The caller behind an application token this process verified recently, or None when answering
    needs the store (then call `principal_from_token`). See the module docstring for what is relied on."""
    cache = env.token_cache
    seen = cache.verified.get(token)
    if seen is None or cache.tenant_id is None or not cache.fresh(cache.keys_at, KEY_SNAPSHOT_TTL):
        return None
    kid, claims = seen
    now = env.clock.now()
    if claims.get("idtyp") != "app" or not _published_now(cache, kid, now):
        return None
    app = cache.apps.get(str(claims.get("appid", "")))
    if app is None or not cache.fresh(app.seen_at, APP_CHECK_TTL):
        return None
    return _app_principal(app, _claims_checked(claims, env, now, cache.tenant_id), ip_address)


def principal_from_token(tx: Tx, env: Env, token: str, *, ip_address: str | None = None) -> Principal:
    """Verify a bearer token we issued and describe its caller, or raise TokenRejected."""
    claims = _verified_claims(tx, env, token)
    if claims.get("idtyp") == "app":
        client = find_client(tx, str(claims.get("appid", "")))
        if client is None:
            raise TokenRejected("Access token validation failure: the application no longer exists.")
        app = SeenApp(client.id, client.app_id, client.display_name, env.clock.now())
        env.token_cache.apps[app.app_id] = app
        return _app_principal(app, claims, ip_address)
    if claims.get("idtyp", "user") != "user":
        raise TokenRejected("Access token validation failure: not a user's access token.")
    # A delegated token (tokens/oidc.py) is checked against the store on every call, never cached:
    # disabling the user or revoking their sessions stops it at the next request.
    user = directory_store.user_by_id(tx, str(claims.get("oid", "")))
    if user is None or not user.account_enabled:
        raise TokenRejected("Access token validation failure: the user is unknown or disabled.")
    if int(claims.get("iat", 0)) < int(user.sessions_valid_from.timestamp()):
        raise TokenRejected("Access token validation failure: the user's sessions were revoked.")
    roles = frozenset(
        Role(r) for r in directory_store.role_ids_of(tx, user.id) if r in Role._value2member_map_
    )
    return Principal(
        kind="user",
        id=user.id,
        display_name=user.display_name,
        user_principal_name=user.user_principal_name,
        app_id=str(claims.get("azp") or "") or None,
        scopes=frozenset(str(claims.get("scp", "")).split()),
        roles=roles,
        amr=token_amr(claims.get("amr")),
        auth_time=token_auth_time(claims.get("auth_time")),
        ip_address=ip_address,
    )
