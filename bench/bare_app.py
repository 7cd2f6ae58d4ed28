"""The yardstick: a bare FastAPI endpoint on the same server stack (uvicorn, one worker, access log on)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
