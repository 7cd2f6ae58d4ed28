"""The ASGI application: one per process, all state in the database."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from passbridge import __version__
from passbridge.config import load_settings
from passbridge.graph import errors as graph_errors
from passbridge.graph import routes as graph_routes
from passbridge.services.context import Env

log = logging.getLogger("passbridge")


def create_app(env: Env) -> FastAPI:
    app = FastAPI(title="Passbridge", version=__version__, docs_url=None, redoc_url=None)
    app.state.env = env

    @app.middleware("http")
    async def request_ids(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Graph sends request-id on every response and echoes the caller's client-request-id.
        request_id = str(uuid.uuid4())
        request.state.request_id = request_id
        response = await call_next(request)
        response.headers["request-id"] = request_id
        client_request_id = request.headers.get("client-request-id")
        if client_request_id:
            response.headers["client-request-id"] = client_request_id[:128]
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        reason = await run_in_threadpool(env.db.check_ready)
        if reason is not None:
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready"})

    graph_errors.install(app)
    graph_routes.install(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory`: each worker process builds its own app from the environment."""
    return create_app(Env.from_settings(load_settings()))
