"""Registering a router's routes directly on the application, flattened, and finding them by prefix.

Relies on FastAPI 0.163 (`APIRouter.add_api_route`'s arguments, the app router's `middleware_stack`)
and Starlette 1.10 (`Route.matches`, `Match`). Off (PASSBRIDGE_FASTPATH=0, or other versions), the
routers are included with FastAPI's own `include_router` and the router walks them as it always does.

FastAPI (0.16x) keeps an included router as a nested node: every request walks each nested router's
route list twice (once to match, once to dispatch), saving and restoring scope keys around every
candidate. For the Graph routers (v1.0 and beta, five modules each) that cost more per request than
the whole token check, so the edges keep declaring routes on per-module APIRouters and this copies
them onto the application's own route list, in the same order and with the same settings, as older
FastAPI's include_router did.

Even flat, the router tries every route in order until one matches: a Graph read walked past the
seventeen OpenID Connect and health routes, a page past every Graph route. `index_by_first_segment`
gives the router, per first path segment, only the routes that could match a path starting with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.params import Depends
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from passbridge import fastpath


def add_routes(
    app: FastAPI,
    router: APIRouter,
    *,
    prefix: str = "",
    dependencies: Sequence[Depends] = (),
    tags: list[str] | None = None,
    route_class: type[APIRoute] | None = None,
) -> None:
    """The router's routes on the app, flattened with `route_class` (GraphRoute: its own fast path,
    which needs flat routes), or, with the fast path off, `app.include_router` as FastAPI means it."""
    if not fastpath.active("routing"):
        app.include_router(router, prefix=prefix, dependencies=dependencies, tags=tags)  # type: ignore[arg-type]
        return
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"only API routes can be flattened, not {route!r}")
        app.router.add_api_route(
            prefix + route.path,
            route.endpoint,
            methods=sorted(route.methods or ()),
            status_code=route.status_code,
            name=route.name,
            include_in_schema=route.include_in_schema and router.include_in_schema,
            tags=[*(tags or ()), *route.tags] or None,
            dependencies=[*dependencies, *route.dependencies],  # route's already hold its router's
            response_class=route.response_class,
            openapi_extra=route.openapi_extra,
            summary=route.summary,
            description=route.description,
            responses=route.responses,
            route_class_override=route_class,
        )


def _first_segment(route: BaseRoute) -> str | None:
    """The literal first segment every path this route matches starts with; None when that segment is
    a parameter (`/{tenant}/...`) or the route is of a kind whose paths we do not know."""
    if not isinstance(route, Route | Mount):
        return None
    head = route.path.lstrip("/").split("/", 1)[0]
    return None if "{" in head else head


def index_by_first_segment(app: FastAPI) -> None:
    """Dispatch each request among the routes that can match its first path segment, in their
    declared order; anything those do not match fully (a 405, a 404, a trailing-slash redirect)
    goes through the router's own full walk, so every answer stays what the full walk gives.
    Call it once every route is added: routes added later are seen by the full walk only."""
    if not fastpath.active("routing"):
        return
    router = app.router
    if router.middleware_stack != router.app:
        raise TypeError("the router has middleware of its own; index it before adding any")
    routes = list(router.routes)
    firsts = [_first_segment(route) for route in routes]
    wildcard = [route for route, first in zip(routes, firsts, strict=True) if first is None]
    by_segment = {
        segment: [r for r, f in zip(routes, firsts, strict=True) if f is None or f == segment]
        for segment in {f for f in firsts if f is not None}
    }
    full_walk: ASGIApp = router.app

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            end = path.find("/", 1)
            candidates = by_segment.get(path[1:] if end < 0 else path[1:end], wildcard)
            for route in candidates:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", router)
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await full_walk(scope, receive, send)

    router.middleware_stack = dispatch
