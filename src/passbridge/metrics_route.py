"""GET /metrics (PASSBRIDGE_METRICS): off by default (no route at all), `token` (a bearer token,
compared in constant time), or `open` (for a listener that only the scraper reaches; never on a
public address). docs/operations.md explains the choice."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from passbridge.metrics import StoreCollector, scrape_registry
from passbridge.services.context import Env
from passbridge.store import runner


def install(app: FastAPI, env: Env) -> None:
    settings = env.settings
    if settings.metrics == "off":
        return
    registry = scrape_registry(StoreCollector(env.db, env.clock))
    expected = f"Bearer {settings.metrics_token}".encode() if settings.metrics == "token" else None

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return JSONResponse(
                    {"error": "unauthorized", "message": "GET /metrics needs its bearer token."},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        # Reads every worker's files and the database: off the event loop.
        body = await runner.off_loop(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
