"""POSTs to the token endpoint answered before Starlette's exception middleware and the router.

Relies on Starlette 1.10: `FastAPI.add_middleware` puts this inside RequestIds and Starlette's
ServerErrorMiddleware (app.py) but outside ExceptionMiddleware and the router, and `Request(scope,
receive)` reads the body as the route's would. Off (PASSBRIDGE_FASTPATH=0, or another Starlette), the
token routes in oidc/routes.py serve these POSTs through FastAPI's routing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_PATH = "/oauth2/v2.0/token"


class TokenShortcut:
    """POSTs to the token endpoint go straight to it, past Starlette's exception middleware, the router
    and FastAPI's request handling: those layers cost about a sixth of a refresh grant (bench/README.md)
    and the endpoint needs none of them (no dependencies, no parameters beyond the tenant segment; it
    raises nothing it does not answer itself). It sits inside RequestIds and Starlette's server-error
    middleware (app.py), so request ids and the 500 answer are the same as on every route. Other methods and
    paths go on to the app, where the routes registered below answer (405 with Allow: POST, and so on)."""

    def __init__(self, app: ASGIApp, token: Callable[[Request, str | None], Awaitable[Response]]) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path, root = scope["path"], scope.get("root_path", "")
            tenant = token_path_tenant(path[len(root) :] if root and path.startswith(root) else path)
            if tenant is not None:
                response = await self.token(Request(scope, receive), tenant or None)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def token_path_tenant(path: str) -> str | None:
    """The tenant segment of /{tenant}/oauth2/v2.0/token, "" for /oauth2/v2.0/token, None for any other
    path (a tenant segment is what the route's `{tenant}` matches: one non-empty segment)."""
    if not path.endswith(TOKEN_PATH):
        return None
    if len(path) == len(TOKEN_PATH):
        return ""
    tenant = path[1 : -len(TOKEN_PATH)]
    return tenant if path[0] == "/" and tenant and "/" not in tenant else None
