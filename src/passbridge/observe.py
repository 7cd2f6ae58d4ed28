"""What each request leaves behind for operators: its latency in the metrics, and its id, route and
status for the JSON log lines written while it runs (passbridge/json_log.py).

One plain ASGI middleware just inside RequestIds (app.py), installed only when metrics are on or the
log format is JSON, so a server with neither pays nothing for it. The route is the matched route's
template (`/v1.0/users/{user_ref}`), never the raw path: raw paths would make a series per user.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from passbridge.fastpath.token_shortcut import token_path_tenant
from passbridge.metrics import UNMATCHED, RequestLatency


@dataclass
class RequestInfo:
    """The request being served in this context (asyncio task, and the threads it hands work to)."""

    request_id: str
    method: str
    client: str | None
    start: float
    route: str | None = None
    status: int | None = None
    duration: float | None = None
    # Where the route is found before the response starts (an application log line's request).
    scope: Scope | None = None

    def route_now(self) -> str | None:
        if self.route is None and self.scope is not None and "route" in self.scope:
            return route_of(self.scope)
        return self.route


CURRENT: ContextVar[RequestInfo | None] = ContextVar("passbridge_request", default=None)


def route_of(scope: Scope) -> str:
    """The template of the route that answered: Starlette (and passbridge/fastpath/routing.py) leave
    the matched route in the scope. The token endpoint's fast path (fastpath/token_shortcut.py)
    answers before any routing, so its two templates are recognised here; anything else that no
    route matched (404s) is one label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    tenant = token_path_tenant(scope["path"])
    if tenant is not None:
        return "/{tenant}/oauth2/v2.0/token" if tenant else "/oauth2/v2.0/token"
    return UNMATCHED


class RequestObserver:
    """`latency`: time each request for /metrics; `context`: keep the request's RequestInfo in CURRENT
    for the JSON log lines (skipped when logs are text: nothing would read it)."""

    def __init__(self, app: ASGIApp, *, latency: RequestLatency | None, context: bool) -> None:
        self.app = app
        self.latency = latency
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        info: RequestInfo | None = None
        if self.context:
            client = scope.get("client")
            info = RequestInfo(
                scope["state"]["request_id"],
                scope["method"],
                client[0] if client else None,
                start,
                scope=scope,
            )
            token = CURRENT.set(info)
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if info is not None:
                    # Before uvicorn's access line, which is written as the response starts.
                    info.status = status
                    info.route = route_of(scope)
                    info.duration = time.perf_counter() - start
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            if self.latency is not None:
                self.latency.observe(scope["method"], route_of(scope), status, time.perf_counter() - start)
            if info is not None:
                CURRENT.reset(token)
