"""What the sign-in of people adds to the provider: endpoints, discovery metadata, the server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from passbridge.methods.strength import ORDER, SINGLE_FACTOR_ACR
from passbridge.oidc import authorize, demo_rp, session_endpoints
from passbridge.oidc.grants import TOKEN_AUTH_METHODS_SUPPORTED, OidcServer
from passbridge.services.context import Env
from passbridge.store.tx import Tx
from passbridge.tokens.oidc import DELEGATED_SCOPES, OIDC_SCOPES

__all__ = ["OidcServer", "discovery_metadata", "install"]


def discovery_metadata(env: Env, *, prefix: str) -> dict[str, Any]:
    """The OpenID Connect Discovery members for the code flow (merged into routes.discovery_document)."""
    base = env.settings.base_url
    return {
        "authorization_endpoint": f"{prefix}/oauth2/v2.0/authorize",
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "end_session_endpoint": f"{prefix}/oauth2/v2.0/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["pairwise"],
        "code_challenge_methods_supported": ["S256"],
        # methods/strength.py: what `acr` can say, and what `acr_values` may ask for.
        "acr_values_supported": [*(s.value for s in ORDER), SINGLE_FACTOR_ACR],
        "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS_SUPPORTED,
        "scopes_supported": [*OIDC_SCOPES, *DELEGATED_SCOPES.values(), f"{base}/.default"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "auth_time",
            "nonce",
            "amr",
            "acr",
            "at_hash",
            "sid",
            "tid",
            "oid",
            "azp",
            "name",
            "preferred_username",
            "email",
            "roles",
            "scp",
            "ver",
        ],
        "prompt_values_supported": ["none", "login", "select_account", "consent"],
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }


def install(
    router: APIRouter, server: OidcServer, tenant_known: Callable[[Tx, Env, str], bool], env: Env
) -> None:
    authorize.install(router, server, tenant_known)
    session_endpoints.install(router, server)
    if env.settings.demo_rp:
        demo_rp.install(router)
