"""What every page shares: templates, response headers, cookies, bounded form reading, the session."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passbridge import forms
from passbridge.clock import iso_z
from passbridge.forms import FormTooLarge as FormTooLarge  # the web modules catch both from here
from passbridge.forms import FormUnreadable as FormUnreadable
from passbridge.services import portal
from passbridge.services.context import Env
from passbridge.signin.flow import FlowView
from passbridge.signin.sessions import SessionService, SessionView
from passbridge.store import runner
from passbridge.store.tx import Tx

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

FLOW_COOKIE = "pb_flow"
SESSION_COOKIE = "pb_session"
# Names the user this browser signed in as (signin/throttle.py): their attempts from here are trusted.
DEVICE_COOKIE = "pb_device"
DEVICE_DAYS = 180
# Our forms carry two short fields; anything this large is not one of them.
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 16

# Pages load only our own stylesheet and icons: no scripts, no frames, no third parties.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show who is signed in and carry CSRF tokens: never from a shared cache or the back button.
    "Cache-Control": "no-store",
}
# Pages with a passkey button load our one script (static/passkeys.js) and let it post to us. No
# form-action either: Chromium applies it to the redirects after a post, which end at a registered app.
SCRIPT_CSP = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
}

T = TypeVar("T")


def when(value: datetime) -> str:
    """A time as people read it, in UTC: without scripts the page cannot know the browser's zone."""
    return f"{value.day} {value:%b %Y, %H:%M} UTC"


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = when
    environment.filters["iso"] = iso_z
    return environment


TEMPLATES = _templates()


def env_of(request: Request) -> Env:
    env: Env = request.app.state.env
    return env


def page(
    template: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> Response:
    html = TEMPLATES.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


def to_login(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to sign in, and back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return see_other(f"/login?return_to={quote(here, safe='/')}")


async def read(request: Request, work: Callable[[Tx, Env], T]) -> T:
    """Run `work(session, env)` in one read-only unit, off the event loop."""
    env = env_of(request)

    def run() -> T:
        with env.db.transaction("read") as tx:
            return work(tx, env)

    return await runner.off_loop(run)


async def tenant_name(request: Request) -> str:
    return await read(request, lambda tx, _env: portal.tenant_name(tx))


def shown_tenant_name(stored: str | None) -> str:
    """The name a page shows for the organisation, from the stored one (None before there is one)."""
    return stored if stored is not None else portal.DEFAULT_TENANT_NAME


def client_ip(request: Request) -> str | None:
    """The client's address as client_address.ClientAddress resolved it (behind trusted proxies)."""
    return request.client.host if request.client else None


# --- cookies ---------------------------------------------------------------------------------


# The shapes of the values we issue: a flow id is a GUID (ids.new_guid), a session a token_urlsafe(32), a
# device cookie "<user id>.<token_urlsafe(18)>.<keyed hash>" (services/throttle.py). Anything else did not
# come from us and is read as absent, so no lookup ever sends it to the database: PostgreSQL refuses a
# NUL even in a WHERE clause, and a cookie may carry one (an octal escape in the Cookie header).
_COOKIE_SHAPES = {
    FLOW_COOKIE: re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    SESSION_COOKIE: re.compile(r"[A-Za-z0-9_-]{43}"),
    DEVICE_COOKIE: re.compile(r"[0-9a-fA-F-]{36}\.[A-Za-z0-9_-]{1,64}\.[0-9a-f]{64}"),
}


def cookie(request: Request, name: str) -> str | None:
    """The value of one of our cookies when it has the shape we issue it in; None otherwise."""
    return issued(name, request.cookies.get(name))


def issued(name: str, value: str | None) -> str | None:
    """`value` when it has the shape we issue cookie `name`'s values in (also a flow id in `?flow=`)."""
    return value if value is not None and _COOKIE_SHAPES[name].fullmatch(value) else None


def _secure(request: Request) -> bool:
    # Browsers drop Secure cookies on plain http, so local development over http goes without.
    return not env_of(request).settings.is_local or request.url.scheme == "https"


def _set(request: Request, response: Response, name: str, value: str, until: datetime) -> None:
    seconds = max(0, math.floor((until - env_of(request).clock.now()).total_seconds()))
    response.set_cookie(
        name, value, max_age=seconds, path="/", secure=_secure(request), httponly=True, samesite="lax"
    )


def _clear(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=_secure(request), httponly=True, samesite="lax")


def set_flow_cookie(request: Request, response: Response, flow: FlowView) -> None:
    _set(request, response, FLOW_COOKIE, flow.id, flow.expires_at)


def clear_flow_cookie(request: Request, response: Response) -> None:
    _clear(request, response, FLOW_COOKIE)


def set_session_cookie(request: Request, response: Response, value: str, expires_at: datetime) -> None:
    _set(request, response, SESSION_COOKIE, value, expires_at)


def set_device_cookie(request: Request, response: Response, value: str) -> None:
    _set(request, response, DEVICE_COOKIE, value, env_of(request).clock.now() + timedelta(days=DEVICE_DAYS))


def clear_session_cookie(request: Request, response: Response) -> None:
    _clear(request, response, SESSION_COOKIE)


async def current_session(request: Request) -> SessionView | None:
    return await runner.off_loop(SessionService(env_of(request)).current, cookie(request, SESSION_COOKIE))


# --- forms -----------------------------------------------------------------------------------


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields (the last of a repeated name wins), read by forms.py within our limits;
    empty when the body is not a form."""
    fields = await forms.read_form(
        request, max_bytes=MAX_FORM_BYTES, max_fields=MAX_FORM_FIELDS, multipart=True
    )
    return dict(fields or [])


# --- error pages -------------------------------------------------------------------------------

# What a browser is told for each routing or size error: a sentence a person can act on.
_ERRORS = {
    404: (
        "We can't find that page",
        "There is no page at this address. Check it for typing mistakes, or go on from My apps.",
    ),
    405: (
        "This page can't be opened this way",
        "This address only takes a form sent from one of our pages, so opening it directly does nothing. "
        "Nothing was changed.",
    ),
    413: (
        "That was too much to send",
        "What your browser sent is larger than any of our forms takes, so nothing was changed. "
        "Go back and try again.",
    ),
}
# Paths whose callers are programs, whatever their Accept header says: Graph, SCIM, the OAuth endpoints
# other than the two a browser is sent to (authorize, logout), discovery and keys, health, the schema.
_API_SEGMENTS = frozenset(
    ("v1.0", "beta", "scim", ".well-known", "discovery", "jwks", "openapi.json", "healthz", "readyz")
)
_BROWSER_OAUTH = ("/oauth2/v2.0/authorize", "/oauth2/v2.0/logout")


def is_api_path(path: str) -> bool:
    if path.endswith(_BROWSER_OAUTH):
        return False
    segments = path.strip("/").split("/")
    if segments[0] in _API_SEGMENTS or "oauth2" in segments[:2]:
        return True
    # /{tenant}/v2.0/.well-known/... and /{tenant}/discovery/...
    return len(segments) > 1 and segments[1] in ("v2.0", "discovery")


def _quality(accept: str, kinds: tuple[str, ...]) -> float:
    """The highest q the Accept header gives any of `kinds` (media ranges such as text/* included)."""
    best = 0.0
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        if kind.lower() not in kinds:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_page(request: Request) -> bool:
    """A browser opening an address (its Accept names text/html ahead of JSON), not a program calling
    an API path: it gets a page; everyone else keeps the JSON they always had. `*/*` alone (curl,
    fetch) is not a preference for HTML."""
    if is_api_path(request.url.path):
        return False
    accept = request.headers.get("accept", "")
    html = _quality(accept, ("text/html", "application/xhtml+xml"))
    return html > 0 and html > _quality(accept, ("application/json", "application/*"))


async def error_page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    """The page for a routing or size error, in the site's look, offering the way on."""
    title, message = _ERRORS[status]
    in_sign_in = request.url.path.startswith("/login")
    return page(
        "problem.html",
        status=status,
        headers=headers,
        tenant=await tenant_name(request),
        title=title,
        message=message,
        link_href="/login" if in_sign_in else "/apps",
        link_text="Start again" if in_sign_in else "Go to My apps",
    )


async def too_large(request: Request) -> Response:
    """A posted form past MAX_FORM_BYTES: the 413 page (only our pages post these forms)."""
    return await error_page(request, 413)
