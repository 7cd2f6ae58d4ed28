"""Registering a router's routes directly on the application, flattened.

FastAPI (0.16x) keeps an included router as a nested node: every request walks each nested router's
route list twice (once to match, once to dispatch), saving and restoring scope keys around every
candidate. For the Graph routers (v1.0 and beta, five modules each) that cost more per request than
the whole token check, so the edges keep declaring routes on per-module APIRouters and this copies
them onto the application's own route list, in the same order and with the same settings, as older
FastAPI's include_router did.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.params import Depends
from fastapi.routing import APIRoute


def add_routes(
    app: FastAPI,
    router: APIRouter,
    *,
    prefix: str = "",
    dependencies: Sequence[Depends] = (),
    tags: list[str] | None = None,
) -> None:
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"only API routes can be flattened, not {route!r}")
        app.add_api_route(
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
        )
