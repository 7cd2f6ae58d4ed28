"""The ASGI application: one per process, all state in the database."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from opentelemetry import _logs, metrics, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from passbridge import __version__, background, fastpath, metrics_route
from passbridge.client_address import ClientAddress
from passbridge.config import load_settings
from passbridge.fastpath.routing import index_by_first_segment
from passbridge.graph import errors as graph_errors
from passbridge.graph import openapi as graph_openapi
from passbridge.graph import routes as graph_routes
from passbridge.ids import new_guid
from passbridge.mail import queries as mail_queries
from passbridge.metrics import RequestLatency, outbox_depth_source
from passbridge.observe import RequestObserver
from passbridge.oidc import routes as oidc_routes
from passbridge.scim import routes as scim_routes
from passbridge.services.context import Env
from passbridge.store import runner
from passbridge.web import routes as web_routes

log = logging.getLogger("passbridge")


class RequestIds:
    """Graph sends request-id on every response and echoes the caller's client-request-id.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware cost more per request than the database
    work of a whole token grant (bench/README.md)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_guid()
        scope.setdefault("state", {})["request_id"] = request_id
        echoed = next((v[:128] for k, v in scope["headers"] if k == b"client-request-id" and v), None)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"request-id", request_id.encode())]
                if echoed:
                    headers.append((b"client-request-id", echoed))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_ids)


class Passbridge(FastAPI):
    """FastAPI with RequestIds outermost: added with add_middleware it would sit inside Starlette's
    server-error middleware, and the 500 answer that middleware sends would carry no request-id.
    ClientAddress wraps everything, so every part of a request sees the one client address."""

    def build_middleware_stack(self) -> ASGIApp:
        env: Env = self.state.env
        trusted = env.settings.trusted_proxy_networks
        stack = super().build_middleware_stack()
        # Operations (issue 14): request latency for /metrics and the request's context for JSON logs.
        if env.settings.metrics != "off" or env.settings.log_format == "json":
            latency = RequestLatency() if env.settings.metrics != "off" else None
            stack = RequestObserver(stack, latency=latency, context=env.settings.log_format == "json")
        return ClientAddress(RequestIds(stack), trusted)


# The OpenTelemetry API's stand-ins until a provider is set (FastAPI's telemetry module knows the same).
_STAND_INS = {"ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider", "NoOpTracerProvider"}


def telemetry_config(
    tracer_provider: object, meter_provider: object, logger_provider: object
) -> TelemetryConfig:
    """FastAPI reports each request to OpenTelemetry when a provider is configured, and asks the API
    on every request whether one is (three provider look-ups, ~3 % of a token grant). Providers are set
    before the app is built (by opentelemetry-instrument or the operator's start-up code), so ask once."""

    def configured(provider: object) -> bool:
        return type(provider).__name__ not in _STAND_INS

    return {
        "tracing": configured(tracer_provider),
        "metrics": configured(meter_provider),
        "logs": configured(logger_provider),
    }


def create_app(env: Env) -> FastAPI:
    # Routes are built with the fast paths as the setting says (passbridge/fastpath).
    fastpath.configure(env.settings.fastpath)
    telemetry = telemetry_config(
        trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider()
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Periodic tasks (background.py: the mail sender, ...) live as long as the served app.
        tasks = background.Background(env)
        tasks.start()
        try:
            yield
        finally:
            await runner.off_loop(tasks.stop)

    app = Passbridge(
        title="Passbridge",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        telemetry=telemetry,
        lifespan=lifespan,
    )
    app.state.env = env

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        reason = await runner.off_loop(env.db.check_ready)
        if reason is not None:
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready"})

    graph_errors.install(app)
    # Routing tries routes in order: the token endpoint first (the busiest), then the Graph API; the
    # pages last, where an Argon2 verify per sign-in dwarfs the failed matches before them.
    oidc_routes.install(app)
    graph_routes.install(app)
    app.include_router(scim_routes.router)
    web_routes.install(app)
    graph_openapi.install(app)
    metrics_route.install(app, env)  # GET /metrics, when PASSBRIDGE_METRICS is not off
    outbox_depth_source(mail_queries.depth)
    index_by_first_segment(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory`: each worker process builds its own app from the environment."""
    app = create_app(Env.from_settings(load_settings()))
    # Everything built so far (modules, routes, the app) lives as long as the process: moving it out
    # of the collector's generations keeps the full collections that requests trigger from walking it.
    gc.freeze()
    return app
