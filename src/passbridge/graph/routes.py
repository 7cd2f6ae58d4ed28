"""Mounts the Graph-compatible routers under /v1.0 and /beta (same behaviour; beta adds fields)."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from passbridge.fastpath.graph_route import GraphRoute
from passbridge.fastpath.routing import add_routes
from passbridge.graph import (
    approvals,
    audit,
    batch,
    bulk,
    groups,
    joiner,
    managers,
    methods,
    passwordless,
    policies,
    sessions,
    signins,
    strengths,
    users,
)
from passbridge.graph.auth import caller


def install(app: FastAPI) -> None:
    # Flattened onto the app (fastpath/routing.py): nested routers cost more per request than a grant's SQL.
    for version in ("v1.0", "beta"):
        # Authentication methods first: the busiest Graph reads, and routing tries routes in order. No
        # path of one module matches another's, so the order changes nothing else.
        for module in (
            methods,
            passwordless,
            users,
            managers,
            sessions,
            groups,
            policies,
            strengths,
            audit,
            signins,
            batch,
        ):
            prefix = f"/{version}"
            add_routes(
                app,
                module.router,
                prefix=prefix,
                dependencies=[Depends(caller)],
                tags=[version],
                route_class=GraphRoute,
            )
    # Passbridge's own extensions, beta only (docs/graph-compat.md).
    for extension in (bulk, joiner, approvals):
        add_routes(
            app,
            extension.router,
            prefix="/beta",
            dependencies=[Depends(caller)],
            tags=["beta"],
            route_class=GraphRoute,
        )
