"""A tiny relying party for the demo (`passbridge demo`): watch a code + PKCE round trip.

Mounted only when PASSBRIDGE_DEMO_RP is set (the `demo` command sets it). It plays a third party:
Authlib's OAuth 2.0 client builds the authorization request (S256 PKCE, nonce), redeems the code at
the token endpoint, and the ID token is checked against the published keys (signature, iss, aud,
nonce, exp) before its claims are shown. It reaches the provider in process (ASGI transport), so it
works whatever address the server is published under. Pending requests live in this process's
memory: it is a demonstration, not a pattern for real relying parties' state.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passbridge.directory import queries as directory_store
from passbridge.security import keys as jose
from passbridge.services.context import Env
from passbridge.store import runner

DEMO_RP_NAME = "Passbridge demo relying party"
PATH = "/demo-rp"
STATE_COOKIE = "demo_rp_state"
PENDING_MAX = 256
PENDING_SECONDS = 900
SCOPE = "openid profile email offline_access"
TIMES = ("auth_time", "iat", "exp", "nbf")

# state -> (monotonic time, code_verifier, nonce)
_pending: dict[str, tuple[float, str, str]] = {}


def redirect_uris(base_url: str) -> list[str]:
    """The callback, and the page itself as the post-logout address."""
    return [f"{base_url}{PATH}/callback", f"{base_url}{PATH}"]


def _page(body: str) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo relying party</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}"
        "td,th{text-align:left;padding:.2rem .8rem .2rem 0;vertical-align:top}code{word-break:break-all}"
        f"</style></head><body><h1>Demo relying party</h1>{body}</body></html>"
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _client_id(env: Env) -> str | None:
    with env.db.transaction("read") as tx:
        app = next((a for a in directory_store.applications(tx) if a.display_name == DEMO_RP_NAME), None)
        return app.app_id if app else None


def _client(app: FastAPI, env: Env, client_id: str) -> Any:
    # Imported here: only the demo needs Authlib's client (and its import-time deprecation notice).
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    return AsyncOAuth2Client(
        client_id=client_id,
        token_endpoint_auth_method="none",
        scope=SCOPE,
        redirect_uri=f"{env.settings.base_url}{PATH}/callback",
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=app),
        base_url=env.settings.base_url,
    )


def _when(value: Any) -> str:
    if not isinstance(value, int):
        return escape(str(value))
    return f"{value} ({datetime.fromtimestamp(value, UTC).isoformat(timespec='seconds')})"


def install(router: APIRouter) -> None:
    @router.get(PATH)
    async def home() -> HTMLResponse:
        return _page(
            "<p>This page is a separate application that signs you in with Passbridge using the "
            "authorization code flow with PKCE, then shows what the ID token says.</p>"
            f'<p><a href="{PATH}/start">Sign in with Passbridge</a></p>'
        )

    @router.get(f"{PATH}/start")
    async def start(request: Request) -> Response:
        app, env = request.app, request.app.state.env
        client_id = await runner.off_loop(_client_id, env)
        if client_id is None:
            return _page("<p>The demo relying party is not registered; run <code>passbridge demo</code>.</p>")
        now = time.monotonic()
        stale = [k for k, v in _pending.items() if now - v[0] > PENDING_SECONDS]
        for key in stale if len(_pending) < PENDING_MAX else list(_pending):
            _pending.pop(key, None)
        verifier, nonce = generate_token(48), secrets.token_urlsafe(16)
        async with _client(app, env, client_id) as client:
            uri, state = client.create_authorization_url(
                f"{env.settings.base_url}/oauth2/v2.0/authorize", code_verifier=verifier, nonce=nonce
            )
        _pending[state] = (now, verifier, nonce)
        response = RedirectResponse(uri, status_code=303)
        response.set_cookie(STATE_COOKIE, state, httponly=True, samesite="lax", path=PATH)
        return response

    @router.get(f"{PATH}/callback")
    async def callback(request: Request) -> Response:
        app, env = request.app, request.app.state.env
        state = request.query_params.get("state", "")
        pending = _pending.pop(state, None) if state == request.cookies.get(STATE_COOKIE) else None
        if "error" in request.query_params:
            error = escape(request.query_params["error"])
            description = escape(request.query_params.get("error_description", ""))
            return _page(f"<p>Passbridge answered: <code>{error}</code> {description}</p>")
        client_id = await runner.off_loop(_client_id, env)
        if pending is None or client_id is None:
            return _page(
                f'<p>This sign-in is unknown or was already used. <a href="{PATH}/start">Start again</a>.</p>'
            )
        _, verifier, nonce = pending
        async with _client(app, env, client_id) as client:
            token = await client.fetch_token(
                f"{env.settings.base_url}/oauth2/v2.0/token",
                authorization_response=str(request.url),
                code_verifier=verifier,
            )
            published = (await client.get("/discovery/v2.0/keys")).json()["keys"]
        try:
            claims = jose.verify(token["id_token"], published, now=env.clock.now())
        except jose.TokenInvalid as exc:
            return _page(f"<p>The ID token did not verify: {escape(str(exc))}</p>")
        problems = [
            name
            for name, ok in (
                ("iss", claims.get("iss") == env.settings.base_url),
                ("aud", claims.get("aud") == client_id),
                ("nonce", claims.get("nonce") == nonce),
            )
            if not ok
        ]
        if problems:
            return _page(f"<p>The ID token failed its checks: {escape(', '.join(problems))}.</p>")
        rows = "".join(
            f"<tr><th>{escape(k)}</th><td><code>{_when(v) if k in TIMES else escape(str(v))}</code></td></tr>"
            for k, v in sorted(claims.items())
        )
        logout = f"{env.settings.base_url}/oauth2/v2.0/logout?" + urlencode(
            {"id_token_hint": token["id_token"], "post_logout_redirect_uri": f"{env.settings.base_url}{PATH}"}
        )
        return _page(
            "<p>Signed in. The ID token's signature, issuer, audience, nonce and expiry checked out.</p>"
            f"<p><strong>amr</strong> {escape(str(claims.get('amr')))} &middot; <strong>acr</strong> "
            f"{escape(str(claims.get('acr')))} &middot; "
            f"<strong>auth_time</strong> {_when(claims.get('auth_time'))}</p>"
            f"<table>{rows}</table>"
            f"<p>Refresh token received: {'yes' if token.get('refresh_token') else 'no'}; access token lasts "
            f"{escape(str(token.get('expires_in')))} s.</p>"
            f'<p><a href="{escape(logout)}">Sign out</a> &middot; '
            f'<a href="{PATH}/start">Sign in again</a></p>'
        )
