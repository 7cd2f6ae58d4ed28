"""Graph's error body, rendered in one place for every failure under /v1.0 and /beta."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from passbridge.domain.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from passbridge.tokens.service import TokenRejected

log = logging.getLogger("passbridge.graph")


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(request: Request, status: int, code: str, message: str) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "message": message,
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": request.headers.get("client-request-id", request_id),
            },
        }
    }
    headers = {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def is_graph_path(path: str) -> bool:
    return path.startswith(("/v1.0/", "/beta/")) or path in ("/v1.0", "/beta")


def _denied_code(path: str) -> str:
    # Graph answers directory objects with Authorization_RequestDenied and the authentication
    # methods and policy workloads with accessDenied; clients branch on these.
    return (
        "accessDenied"
        if ("/authentication" in path or "/policies/" in path)
        else "Authorization_RequestDenied"
    )


def domain_error_response(request: Request, exc: DomainError) -> JSONResponse:
    if isinstance(exc, NotFound):
        directory = exc.kind in ("user", "group", "member", "manager")
        code = "Request_ResourceNotFound" if directory else "itemNotFound"
        return error_response(request, 404, code, exc.message)
    if isinstance(exc, PermissionDenied):
        return error_response(request, 403, _denied_code(request.url.path), exc.message)
    if isinstance(exc, Conflict):
        return error_response(request, 400, "Request_BadRequest", exc.message)
    if isinstance(exc, InvalidInput):
        return error_response(request, 400, "badRequest", exc.message)
    return error_response(request, 400, "badRequest", exc.message)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    location = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return (
        f"Invalid value for '{location}': {first.get('msg', 'invalid')}." if location else "Invalid request."
    )


_STATUS_CODES = {
    404: ("BadRequest", "Resource not found for the segment '{segment}'."),
    405: ("Request_BadRequest", "Specified HTTP method is not allowed for the request target."),
}


def http_error_response(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """The API's answer to a routing error (no such path, a method it does not take): Graph's shape
    under /v1.0 and /beta, FastAPI's `{"detail": ...}` elsewhere. The pages answer browsers with HTML
    instead (web/errors.py) and hand every other request here."""
    if not is_graph_path(request.url.path):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    code, template = _STATUS_CODES.get(exc.status_code, ("badRequest", str(exc.detail)))
    segment = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    status = 400 if exc.status_code == 404 else exc.status_code
    return error_response(request, status, code, template.format(segment=segment))


def install(app: FastAPI) -> None:
    """Graph errors for Graph paths; plain JSON errors elsewhere."""

    @app.exception_handler(GraphError)
    async def _graph(request: Request, exc: GraphError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return domain_error_response(request, exc)

    @app.exception_handler(TokenRejected)
    async def _token(request: Request, exc: TokenRejected) -> JSONResponse:
        return error_response(request, 401, "InvalidAuthenticationToken", exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 400, "badRequest", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_error_response(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The exception text may quote request data; log the type and request id, not the text.
        log.error(
            "unhandled %s on %s %s (request-id %s)",
            type(exc).__name__,
            request.method,
            request.url.path,
            getattr(request.state, "request_id", "-"),
        )
        return error_response(request, 500, "generalException", "An unexpected error occurred.")
