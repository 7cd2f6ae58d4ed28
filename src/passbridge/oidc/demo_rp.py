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
import sys
import time
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

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


# The site's stylesheet and layout (web/static/style.css), so the demo looks like the product it shows
# off; the page's own parts are built here, every value escaped.
_LAYOUT = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{title} · Demo relying party</title>"
    '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
    '<link rel="stylesheet" href="/static/style.css"></head><body>'
    '<main class="panel demo-rp" aria-labelledby="page-title">'
    '<p class="brand"><span class="app-icon" aria-hidden="true">D</span><span>Demo relying party</span></p>'
    '<h1 id="page-title">{title}</h1>{body}</main>'
    '<footer class="site-footer">A separate application, signing in with Passbridge</footer></body></html>'
)
# RFC 8176 values and ours ("tap" and its kind), in words (methods/strength.py says which sign-in gives
# which).
AMR_WORDS = {
    "tap": "Temporary Access Pass",
    "tap-one-time": "a one-time pass",
    "tap-multi-use": "a multi-use pass",
    "hwk": "a key held in hardware (a device-bound passkey)",
    "swk": "a key held in software (a synced passkey)",
    "otp": "a one-time code (an authenticator app)",
    "mfa": "multiple factors",
    "pwd": "a password",
}
ACR_WORDS = {
    "mfa": "Multifactor authentication",
    "passwordless-mfa": "Passwordless multifactor authentication",
    "phishing-resistant-mfa": "Phishing-resistant multifactor authentication",
    "single-factor": "Single factor: meets no authentication strength",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = _LAYOUT.format(title=escape(title), body=body)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


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
        transport=_asgi_transport(app),
        base_url=env.settings.base_url,
    )


def _asgi_transport(app: Any) -> Any:
    """The in-process transport of the HTTP library Authlib's client is built on: Authlib prefers httpx2
    when it is installed, and an httpx transport inside an httpx2 client fails. Asked of the client's own
    base class, so nothing here imports a library Passbridge does not depend on."""
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    base = next(c for c in AsyncOAuth2Client.__mro__ if c.__name__ == "AsyncClient")
    return sys.modules[base.__module__.split(".")[0]].ASGITransport(app=app)


def _when(value: Any) -> str:
    """A NumericDate as a date in UTC a person reads, with the number the token carries beside it."""
    if not isinstance(value, int) or isinstance(value, bool):
        return f"<code>{escape(str(value))}</code>"
    moment = datetime.fromtimestamp(value, UTC)
    return (
        f'<time datetime="{moment.isoformat(timespec="seconds").replace("+00:00", "Z")}">'
        f"{moment.day} {moment:%b %Y, %H:%M:%S} UTC</time> <code>{value}</code>"
    )


def _amr(value: Any) -> str:
    if not isinstance(value, list) or not value:
        return f"<code>{escape(str(value))}</code>"
    items = "".join(
        f"<li><code>{escape(str(v))}</code> {escape(AMR_WORDS.get(str(v), ''))}</li>" for v in value
    )
    return f'<ul class="claim-list">{items}</ul>'


def _acr(value: Any) -> str:
    words = ACR_WORDS.get(str(value))
    return f"<code>{escape(str(value))}</code>" + (f" {escape(words)}" if words else "")


def _claim(name: str, value: Any) -> str:
    if name in TIMES:
        return _when(value)
    if isinstance(value, list):
        return ", ".join(f"<code>{escape(str(v))}</code>" for v in value)
    return f"<code>{escape(str(value))}</code>"


def _link(href: str, text: str, kind: str = "secondary") -> str:
    return f'<a href="{escape(href)}" class="button {kind}">{escape(text)}</a>'


def install(router: APIRouter) -> None:
    @router.get(PATH)
    async def home() -> HTMLResponse:
        return _page(
            "Demo relying party",
            '<p class="lead">This page is a separate application that signs you in with Passbridge using '
            "the authorization code flow with PKCE, then shows what the ID token says.</p>"
            f'<div class="actions">{_link(f"{PATH}/start", "Sign in with Passbridge", "primary")}</div>',
        )

    @router.get(f"{PATH}/start")
    async def start(request: Request) -> Response:
        app, env = request.app, request.app.state.env
        client_id = await runner.off_loop(_client_id, env)
        if client_id is None:
            return _page(
                "Not registered",
                '<p class="lead" role="alert">The demo relying party is not registered; run '
                "<code>passbridge demo</code>.</p>",
            )
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
            return _page(
                "Passbridge did not sign you in",
                f'<p class="lead" role="alert">Passbridge answered <code>{error}</code>: {description}</p>'
                f'<div class="actions">{_link(f"{PATH}/start", "Try again", "primary")}</div>',
            )
        client_id = await runner.off_loop(_client_id, env)
        if pending is None or client_id is None:
            return _page(
                "Start again",
                '<p class="lead" role="alert">This sign-in is unknown or was already used.</p>'
                f'<div class="actions">{_link(f"{PATH}/start", "Start again", "primary")}</div>',
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
            return _page(
                "The ID token did not verify", f'<p class="lead" role="alert">{escape(str(exc))}</p>'
            )
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
            return _page(
                "The ID token failed its checks",
                f'<p class="lead" role="alert">Wrong: {escape(", ".join(problems))}.</p>',
            )
        rows = "".join(
            f'<tr><th scope="row"><code>{escape(k)}</code></th><td>{_claim(k, v)}</td></tr>'
            for k, v in sorted(claims.items())
        )
        logout = f"{env.settings.base_url}/oauth2/v2.0/logout?" + urlencode(
            {"id_token_hint": token["id_token"], "post_logout_redirect_uri": f"{env.settings.base_url}{PATH}"}
        )
        who = claims.get("name") or claims.get("preferred_username") or claims.get("sub")
        return _page(
            f"Signed in as {who}",
            '<p class="lead">The ID token\'s signature, issuer, audience, nonce and expiry checked out.</p>'
            '<dl class="claims">'
            f"<dt>How (<code>amr</code>)</dt><dd>{_amr(claims.get('amr'))}</dd>"
            f"<dt>Strength (<code>acr</code>)</dt><dd>{_acr(claims.get('acr'))}</dd>"
            f"<dt>When (<code>auth_time</code>)</dt><dd>{_when(claims.get('auth_time'))}</dd>"
            "</dl>"
            '<h2 class="section">Every claim</h2>'
            f'<div class="table-scroll"><table class="claims-table">{rows}</table></div>'
            f"<p>Refresh token received: {'yes' if token.get('refresh_token') else 'no'}; the access token "
            f"lasts {escape(str(token.get('expires_in')))} seconds.</p>"
            f'<div class="actions">{_link(f"{PATH}/start", "Sign in again")}'
            f"{_link(logout, 'Sign out', 'primary')}</div>",
        )
