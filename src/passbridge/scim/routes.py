"""/scim/v2: SCIM 2.0 (RFC 7644) for HR systems and upstream directories.

Thin: each route authenticates the caller (scim/auth.py), runs one ScimService call in one transaction off
the event loop, and answers in SCIM's media type; every refusal, routing errors included, is SCIM's error
body with its scimType (scim/errors.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from scim2_models import Context
from starlette.responses import Response

from passbridge import metrics
from passbridge.scim import schemas
from passbridge.scim.auth import caller
from passbridge.scim.bulk import run_bulk
from passbridge.scim.errors import ScimError, as_scim_error, error_response, scim_json
from passbridge.scim.projection import parse_names, project
from passbridge.scim.service import ScimService
from passbridge.services.context import Env, Principal
from passbridge.store import runner

log = logging.getLogger("passbridge.scim")
PREFIX = "/scim/v2"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def base_url(env: Env) -> str:
    return env.settings.base_url.rstrip("/") + PREFIX


async def _answer(request: Request, operation: str, work: Callable[[], Awaitable[Response]]) -> Response:
    try:
        response = await work()
    except Exception as exc:
        error = as_scim_error(exc)
        if error is None:
            log.error(
                "unhandled %s on %s %s (request-id %s)",
                type(exc).__name__,
                request.method,
                request.url.path,
                getattr(request.state, "request_id", "-"),
            )
            error = ScimError(500, "An unexpected error occurred.")
        _count(operation, error.status)
        return error_response(error)
    _count(operation, response.status_code)
    return response


def _count(operation: str, status: int) -> None:
    resource, _, verb = operation.partition(".")
    metrics.scim_operation(
        {"user": "User", "group": "Group"}.get(resource, resource), verb or resource, status
    )


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > schemas.MAX_PAYLOAD:
        raise ScimError(413, f"The request body is larger than {schemas.MAX_PAYLOAD} bytes.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ScimError(400, "The request body is not valid JSON.", "invalidSyntax") from None


async def _in_tx(
    request: Request, principal: Principal, work: Callable[[ScimService], Any], *, write: bool
) -> Any:
    env: Env = request.app.state.env

    def run() -> Any:
        with env.db.transaction("write" if write else "read") as tx:
            return work(ScimService(tx, env, principal, base_url(env)))

    return await runner.off_loop(run)


def _resource(document: dict[str, Any], request: Request, status: int = 200) -> Response:
    shown = project(
        document,
        parse_names(request.query_params.get("attributes")),
        parse_names(request.query_params.get("excludedAttributes")),
    )
    meta = document.get("meta", {})
    headers = {"ETag": meta["version"]} if "version" in meta else {}
    if status == 201:
        headers["Location"] = meta.get("location", "")
    return scim_json(shown, status, headers)


def _number(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ScimError(400, f"{name} must be an integer.", "invalidValue") from None


class ListQuery:
    """A list's parameters, from the query string (GET) or a SearchRequest body (POST .search)."""

    def __init__(self, source: dict[str, Any]) -> None:
        def get(name: str) -> Any:
            return next((v for k, v in source.items() if k.lower() == name.lower()), None)

        self.filter = get("filter")
        if self.filter is not None and not isinstance(self.filter, str):
            raise ScimError(400, "filter must be a string.", "invalidFilter")
        self.sort_by = get("sortBy")
        order = str(get("sortOrder") or "ascending").lower()
        if order not in ("ascending", "descending"):
            raise ScimError(400, "sortOrder must be 'ascending' or 'descending'.", "invalidValue")
        self.descending = order == "descending"
        self.start = max(1, _number(get("startIndex"), "startIndex", 1))
        self.count = min(max(0, _number(get("count"), "count", schemas.MAX_RESULTS)), schemas.MAX_RESULTS)

        def names(value: Any) -> list[str]:
            if isinstance(value, list):
                return [str(v) for v in value]
            return parse_names(value)

        self.attributes = names(get("attributes"))
        self.excluded = names(get("excludedAttributes"))


def _list(total: int, documents: list[dict[str, Any]], query: ListQuery) -> Response:
    return scim_json(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": query.start,
            "itemsPerPage": len(documents),
            "Resources": [project(d, query.attributes, query.excluded) for d in documents],
        }
    )


# --- discovery ----------------------------------------------------------------------------------

_DUMP = Context.RESOURCE_QUERY_RESPONSE


def _discovery_document(obj: Any, location: str) -> dict[str, Any]:
    document: dict[str, Any] = obj.model_dump(scim_ctx=_DUMP)
    document.setdefault("meta", {})["location"] = location
    return document


def _listed(documents: list[dict[str, Any]]) -> Response:
    return scim_json(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(documents),
            "startIndex": 1,
            "itemsPerPage": len(documents),
            "Resources": documents,
        }
    )


def _schema_documents(env: Env) -> list[dict[str, Any]]:
    base = base_url(env)
    documents = []
    for schema in schemas.published_schemas():
        document = _discovery_document(schema, f"{base}/Schemas/{schema.id}")
        document["meta"]["resourceType"] = "Schema"
        documents.append(document)
    return documents


def _type_documents(env: Env) -> list[dict[str, Any]]:
    base = base_url(env)
    documents = []
    for resource_type in schemas.resource_types():
        document = _discovery_document(resource_type, f"{base}/ResourceTypes/{resource_type.id}")
        document["meta"]["resourceType"] = "ResourceType"
        documents.append(document)
    return documents


_ONLY_GET = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _only_get(request: Request) -> None:
    if request.method != "GET":
        raise ScimError(405, f"{request.url.path} is read-only: use GET.")


async def _discovery(request: Request, build: Callable[[Env], Response]) -> Response:
    """A discovery endpoint: GET only (405 otherwise), for an authenticated caller."""

    async def work() -> Response:
        _only_get(request)
        await caller(request)
        return build(request.app.state.env)

    return await _answer(request, "discovery", work)


def _one_of(documents: list[dict[str, Any]], wanted: str, what: str) -> Response:
    for document in documents:
        if document["id"] == wanted:
            return scim_json(document)
    raise ScimError(404, f"No {what} '{wanted}'.")


def _config_document(env: Env) -> Response:
    config = schemas.service_provider_config(env.settings.base_url.rstrip("/"))
    document = _discovery_document(config, f"{base_url(env)}/ServiceProviderConfig")
    document["meta"]["resourceType"] = "ServiceProviderConfig"
    return scim_json(document)


@router.api_route("/ServiceProviderConfig", methods=_ONLY_GET)
async def service_provider_config(request: Request) -> Response:
    return await _discovery(request, _config_document)


@router.api_route("/Schemas", methods=_ONLY_GET)
async def list_schemas(request: Request) -> Response:
    return await _discovery(request, lambda env: _listed(_schema_documents(env)))


@router.api_route("/Schemas/{schema_id:path}", methods=_ONLY_GET)
async def get_schema(schema_id: str, request: Request) -> Response:
    return await _discovery(request, lambda env: _one_of(_schema_documents(env), schema_id, "schema"))


@router.api_route("/ResourceTypes", methods=_ONLY_GET)
async def list_resource_types(request: Request) -> Response:
    return await _discovery(request, lambda env: _listed(_type_documents(env)))


@router.api_route("/ResourceTypes/{type_id}", methods=_ONLY_GET)
async def get_resource_type(type_id: str, request: Request) -> Response:
    return await _discovery(request, lambda env: _one_of(_type_documents(env), type_id, "resource type"))


# --- users and groups ---------------------------------------------------------------------------

_KINDS = {"Users": "user", "Groups": "group"}


def _lister(kind: str, query: ListQuery) -> Callable[[ScimService], tuple[int, list[dict[str, Any]]]]:
    def work(service: ScimService) -> tuple[int, list[dict[str, Any]]]:
        arguments = dict(
            sort_by=query.sort_by, descending=query.descending, start=query.start, count=query.count
        )
        if kind == "user":
            return service.list_users(query.filter, **arguments)
        names = {n.lower() for n in query.excluded}
        wanted = {n.lower() for n in query.attributes}
        members = "members" not in names and (not wanted or any(n.startswith("members") for n in wanted))
        return service.list_groups(query.filter, with_members=members, **arguments)

    return work


def _register(collection: str) -> None:
    kind = _KINDS[collection]

    @router.get(f"/{collection}")
    async def list_resources(request: Request) -> Response:
        async def work() -> Response:
            principal = await caller(request)
            query = ListQuery(dict(request.query_params))
            total, documents = await _in_tx(request, principal, _lister(kind, query), write=False)
            return _list(total, documents, query)

        return await _answer(request, f"{kind}.list", work)

    @router.post(f"/{collection}/.search")
    async def search_resources(request: Request) -> Response:
        async def work() -> Response:
            principal = await caller(request)
            body = await _body(request)
            if not isinstance(body, dict) or SEARCH_SCHEMA not in (body.get("schemas") or []):
                raise ScimError(400, f"A search body must name the schema {SEARCH_SCHEMA}.", "invalidSyntax")
            query = ListQuery(body)
            total, documents = await _in_tx(request, principal, _lister(kind, query), write=False)
            return _list(total, documents, query)

        return await _answer(request, f"{kind}.search", work)

    @router.post(f"/{collection}")
    async def create_resource(request: Request) -> Response:
        async def work() -> Response:
            principal = await caller(request)
            body = await _body(request)
            creator = ScimService.create_user if kind == "user" else ScimService.create_group
            document = await _in_tx(request, principal, lambda s: creator(s, body), write=True)
            return _resource(document, request, 201)

        return await _answer(request, f"{kind}.create", work)

    @router.get(f"/{collection}/{{resource_id}}")
    async def get_resource(resource_id: str, request: Request) -> Response:
        async def work() -> Response:
            principal = await caller(request)
            getter = ScimService.get_user if kind == "user" else ScimService.get_group
            document = await _in_tx(request, principal, lambda s: getter(s, resource_id), write=False)
            if_none = request.headers.get("if-none-match")
            if if_none and document["meta"]["version"] in {t.strip() for t in if_none.split(",")}:
                return Response(status_code=304, headers={"ETag": document["meta"]["version"]})
            return _resource(document, request)

        return await _answer(request, f"{kind}.get", work)

    @router.put(f"/{collection}/{{resource_id}}")
    async def replace_resource(resource_id: str, request: Request) -> Response:
        async def work() -> Response:
            principal = await caller(request)
            body = await _body(request)
            replacer = ScimService.replace_user if kind == "user" else ScimService.replace_group
            if_match = request.headers.get("if-match")
            document = await _in_tx(
                request, principal, lambda s: replacer(s, resource_id, body, if_match), write=True
            )
            return _resource(document, request)

        return await _answer(request, f"{kind}.replace", work)

    @router.patch(f"/{collection}/{{resource_id}}")
    async def patch_resource(resource_id: str, request: Request) -> Response:
        async def work() -> Response:
            principal = await caller(request)
            body = await _body(request)
            patcher = ScimService.patch_user if kind == "user" else ScimService.patch_group
            if_match = request.headers.get("if-match")
            document = await _in_tx(
                request, principal, lambda s: patcher(s, resource_id, body, if_match), write=True
            )
            return _resource(document, request)

        return await _answer(request, f"{kind}.patch", work)

    @router.delete(f"/{collection}/{{resource_id}}")
    async def delete_resource(resource_id: str, request: Request) -> Response:
        async def work() -> Response:
            principal = await caller(request)
            deleter = ScimService.delete_user if kind == "user" else ScimService.delete_group
            if_match = request.headers.get("if-match")
            await _in_tx(request, principal, lambda s: deleter(s, resource_id, if_match), write=True)
            return Response(status_code=204)

        return await _answer(request, f"{kind}.delete", work)


_register("Users")
_register("Groups")


@router.post("/Bulk")
async def bulk(request: Request) -> Response:
    async def work() -> Response:
        principal = await caller(request)
        body = await _body(request)
        env: Env = request.app.state.env
        answer = await runner.off_loop(lambda: run_bulk(env, principal, base_url(env), body))
        return scim_json(answer)

    return await _answer(request, "bulk", work)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown(rest: str, request: Request) -> Response:
    async def work() -> Response:
        await caller(request)
        if rest.rstrip("/") in ("Me", ".search"):
            raise ScimError(501, f"/{rest} is not supported by this service provider.")
        parts = rest.strip("/").split("/")
        known = ("Users", "Groups", "Bulk", "Schemas", "ResourceTypes", "ServiceProviderConfig")
        if parts[0] in known and len(parts) <= 2:
            raise ScimError(405, f"{request.method} is not allowed on {request.url.path}.")
        raise ScimError(404, f"{request.url.path} is not a SCIM endpoint.")

    return await _answer(request, "unknown", work)
