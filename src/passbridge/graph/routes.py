"""Mounts the Graph-compatible routers under /v1.0 and /beta (same behaviour; beta adds fields)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from passbridge.graph import audit, groups, methods, policies, users
from passbridge.graph.auth import caller


def install(app: FastAPI) -> None:
    for version in ("v1.0", "beta"):
        api = APIRouter(prefix=f"/{version}", dependencies=[Depends(caller)])
        for module in (users, groups, methods, policies, audit):
            api.include_router(module.router)
        app.include_router(api, tags=[version])
