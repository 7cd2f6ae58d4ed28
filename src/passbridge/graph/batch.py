"""Graph's JSON batching: `POST /v1.0/$batch` (and /beta) carries up to 20 requests, each run through this
same app in process, with the caller's own Authorization, as if sent one by one: every check, audit
entry and error is the one a single request would meet.

Requests run in the order given (Graph may reorder independent ones; no client may rely on that). A
request naming in `dependsOn` one that failed (status 400 or more, or itself 424) is not run and answers
424 Failed Dependency, as Graph does. A batch that is not one (not JSON, more than 20 requests, a
duplicate id, a dependency on a later or unknown id, a nested batch) is a 400 for the whole.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.types import Message

from passbridge.graph.body import MAX_BODY_BYTES, read_json
from passbridge.graph.errors import GraphError, error_response

router = APIRouter()

MAX_REQUESTS = 20  # Graph's limit
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
# A batch holds at most 20 bodies, each within a single request's limit.
MAX_BATCH_BYTES = MAX_REQUESTS * MAX_BODY_BYTES
# Headers a request inside a batch may not set: the caller's own Authorization goes with each, and
# the lengths are the new body's.
_NOT_FORWARDED = frozenset({"authorization", "content-length", "host", "transfer-encoding"})


@dataclass(frozen=True)
class Part:
    id: str
    method: str
    path: str
    query: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    depends_on: tuple[str, ...]


def _malformed(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _text(item: dict[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _malformed(f"{where} needs '{name}', a non-empty string.")
    return value.strip()


def _headers(item: dict[str, Any], where: str) -> dict[str, str]:
    raw = item.get("headers") or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise _malformed(f"{where} has 'headers' that are not an object of strings.")
    return {str(k).strip().lower(): v for k, v in raw.items()}


def _body(item: dict[str, Any], headers: dict[str, str], where: str) -> bytes:
    if "body" not in item or item["body"] is None:
        return b""
    if "content-type" not in headers:
        raise _malformed(f"{where} has a body but no Content-Type header.")
    body = item["body"]
    if isinstance(body, dict | list):
        return json.dumps(body).encode()
    if isinstance(body, str):  # Graph: a body that is not JSON comes base64-encoded
        try:
            return base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=False)
        except (binascii.Error, ValueError):
            raise _malformed(f"{where} has a body that is neither JSON nor base64.") from None
    raise _malformed(f"{where} has a body that is neither a JSON object nor base64 text.")


def _target(url: str, where: str) -> tuple[str, str]:
    """The path below the version, and the query, of a request's URL: relative as Graph documents it
    ('/users/x?$select=id', 'users'), or absolute with its version, as Microsoft's SDKs send it (any
    host, as references take any: the request runs here, on this batch's version)."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or not parts.path.strip("/"):
        raise _malformed(f"{where} needs a URL such as /users/{{id}}, not '{url[:200]}'.")
    segments = parts.path.strip("/").split("/")
    if parts.netloc and segments[0] not in ("v1.0", "beta"):
        raise _malformed(f"{where} has an absolute URL without /v1.0 or /beta: '{url[:200]}'.")
    if segments[0] in ("v1.0", "beta"):
        segments = segments[1:]
    if not segments:
        raise _malformed(f"{where} needs a URL such as /users/{{id}}, not '{url[:200]}'.")
    if segments[-1] == "$batch":
        raise _malformed(f"{where} is a batch itself; batches do not nest.")
    return "/" + "/".join(segments), parts.query


def parse_batch(data: dict[str, Any]) -> list[Part]:
    """Graph's batch body, checked whole before any request in it runs."""
    requests = data.get("requests")
    if not isinstance(requests, list) or not requests:
        raise _malformed("The batch needs 'requests', a list of 1 to 20 requests.")
    if len(requests) > MAX_REQUESTS:
        raise _malformed(
            f"The batch holds {len(requests)} requests; a batch may hold at most {MAX_REQUESTS}."
        )
    parts: list[Part] = []
    seen: dict[str, str] = {}  # casefolded id -> id: Graph's ids are not case-sensitive
    for number, item in enumerate(requests, start=1):
        if not isinstance(item, dict):
            raise _malformed(f"Request {number} of the batch is not a JSON object.")
        request_id = _text(item, "id", f"Request {number} of the batch")
        where = f"Request '{request_id[:64]}'"
        if request_id.casefold() in seen:
            raise _malformed(f"The batch holds two requests with the id '{request_id[:64]}'.")
        method = _text(item, "method", where).upper()
        if method not in METHODS:
            raise _malformed(f"{where} has the method '{method[:16]}'; use {', '.join(sorted(METHODS))}.")
        path, query = _target(_text(item, "url", where), where)
        headers = _headers(item, where)
        depends = item.get("dependsOn") or []
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise _malformed(f"{where} has a 'dependsOn' that is not a list of request ids.")
        for dependency in depends:
            if dependency.strip().casefold() not in seen:
                raise _malformed(
                    f"Invalid dependency for request Id '{request_id[:64]}': '{dependency[:64]}' is not "
                    "the id of a request before it in the batch."
                )
        body = _body(item, headers, where)
        forwarded = [
            (k.encode("latin-1", "replace"), v.encode("latin-1", "replace")) for k, v in headers.items()
        ]
        parts.append(
            Part(
                request_id,
                method,
                path,
                query,
                [(k, v) for k, v in forwarded if k.decode() not in _NOT_FORWARDED],
                body,
                tuple(seen[d.strip().casefold()] for d in depends),
            )
        )
        seen[request_id.casefold()] = request_id
    return parts


async def _run(request: Request, version: str, part: Part) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request through the whole app (middleware, routing, errors), as a client's would go."""
    authorization = request.headers.get("authorization", "")
    headers = [
        *part.headers,
        (b"authorization", authorization.encode("latin-1", "replace")),
        (b"content-length", str(len(part.body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": part.method,
        "scheme": request.scope.get("scheme", "http"),
        "server": request.scope.get("server"),
        "client": request.scope.get("client"),
        "root_path": "",
        # ASGI's path is decoded ('%40' in a UPN is '@'); raw_path keeps it as sent.
        "path": unquote(f"/{version}{part.path}"),
        "raw_path": f"/{version}{part.path}".encode(),
        "query_string": part.query.encode(),
        "headers": headers,
        "state": {},
    }
    pending = [{"type": "http.request", "body": part.body, "more_body": False}]
    status, response_headers, chunks = 500, [], []

    async def receive() -> Message:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status, response_headers = message["status"], list(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await request.app(scope, receive, send)
    return status, response_headers, b"".join(chunks)


def _answer(part: Part, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    named = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
    kept = {
        k: v for k, v in named.items() if k in ("content-type", "location", "request-id", "odata-version")
    }
    answer: dict[str, Any] = {"id": part.id, "status": status, "headers": kept}
    if body:
        try:
            is_json = named.get("content-type", "").split(";")[0].strip().endswith("json")
            answer["body"] = json.loads(body) if is_json else base64.b64encode(body).decode()
        except ValueError:
            answer["body"] = base64.b64encode(body).decode()
    return answer


def _failed_dependency(request: Request, part: Part, failed: str) -> dict[str, Any]:
    response = error_response(
        request, 424, "FailedDependency", f"The request depends on request '{failed}', which failed."
    )
    return {
        "id": part.id,
        "status": 424,
        "headers": {"content-type": "application/json"},
        "body": json.loads(bytes(response.body)),
    }


@router.post("/$batch")
async def run_batch(request: Request) -> JSONResponse:
    # The caller is authenticated here (routes.py's dependency) and again in each request.
    version = request.scope["path"].split("/")[1]
    parts = parse_batch(await read_json(request, limit=MAX_BATCH_BYTES))
    statuses: dict[str, int] = {}
    answers: list[dict[str, Any]] = []
    for part in parts:
        failed = next((d for d in part.depends_on if statuses[d] >= 400), None)
        if failed is not None:
            answer = _failed_dependency(request, part, failed)
        else:
            answer = _answer(part, *await _run(request, version, part))
        statuses[part.id] = answer["status"]
        answers.append(answer)
    return JSONResponse({"responses": answers})
