"""Graph-compatible routes: security groups and their members."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from passbridge.directory.service import DirectoryService
from passbridge.graph import odata
from passbridge.graph.auth import caller
from passbridge.graph.body import parse, read_json
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.openapi import body
from passbridge.graph.shapes import group_json, user_json
from passbridge.graph.users import DEFAULT_PROPERTIES as USER_DEFAULT_PROPERTIES
from passbridge.graph.users import FILTERS as USER_FILTERS
from passbridge.graph.users import PROPERTIES as USER_PROPERTIES
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

GROUP_TYPES = ("#microsoft.graph.group", "#microsoft.graph.directoryObject")
TYPE_NAME = "microsoft.graph.group"
USER_TYPE = "#microsoft.graph.user"
PROPERTIES = (
    "id",
    "displayName",
    "description",
    "createdDateTime",
    "securityEnabled",
    "mailEnabled",
    "groupTypes",
)
FILTERS: dict[str, odata.FilterKind] = {"id": "id", "displayName": "text", "description": "text"}
# Members are directory objects; every member Passbridge holds is a user.
MEMBER_TYPE_NAME = "microsoft.graph.directoryObject"
MEMBER_PROPERTIES = USER_PROPERTIES


class NewGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    displayName: StrictStr
    description: StrictStr | None = None
    mailEnabled: StrictBool = False
    mailNickname: StrictStr | None = None
    securityEnabled: StrictBool = True
    groupTypes: list[StrictStr] = []


def _security_group_only(body: NewGroup) -> None:
    if body.mailEnabled or not body.securityEnabled or body.groupTypes:
        raise GraphError(
            400,
            "badRequest",
            "Passbridge holds security groups only: send mailEnabled false, securityEnabled true "
            "and an empty groupTypes.",
        )


@router.get("/groups")
async def list_groups(request: Request, principal: Caller) -> dict[str, Any]:
    query = odata.list_query(
        request, type_name=TYPE_NAME, resource="Group", properties=PROPERTIES, filters=FILTERS, order="groups"
    )

    def work(tx: Tx, env: Env) -> tuple[list[dict[str, Any]], tuple[str, str] | None, int | None]:
        service = DirectoryService(tx, env, principal)
        found = service.search_groups(query.conditions, after=query.page.after, limit=query.page.top)
        count = service.count_groups(query.conditions) if query.count else None
        return [group_json(g) for g in found.items], found.next_after, count

    items, next_after, count = await in_unit(request, work, readonly=True)
    return odata.collection(
        request,
        query.selection.fragment("groups"),
        [query.selection.project(i) for i in items],
        page=query.page,
        next_after=next_after,
        count=count,
    )


@router.get("/groups/$count")
async def count_groups(request: Request, principal: Caller) -> PlainTextResponse:
    conditions = odata.count_query(request, resource="Group", filters=FILTERS)

    def work(tx: Tx, env: Env) -> int:
        return DirectoryService(tx, env, principal).count_groups(conditions)

    return PlainTextResponse(str(await in_unit(request, work, readonly=True)))


@router.post("/groups", status_code=201, openapi_extra=body(NewGroup))
async def create_group(request: Request, principal: Caller) -> dict[str, Any]:
    body = await parse(request, NewGroup, accepted_types=GROUP_TYPES)
    _security_group_only(body)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        service = DirectoryService(tx, env, principal)
        return group_json(service.add_group(body.displayName, description=body.description))

    created = await in_unit(request, work)
    return {"@odata.context": odata.context_url(request, "groups/$entity"), **created}


@router.get("/groups/{group_id}")
async def get_group(group_id: str, request: Request, principal: Caller) -> dict[str, Any]:
    selection = odata.entity_query(request, type_name=TYPE_NAME, properties=PROPERTIES)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        return group_json(DirectoryService(tx, env, principal).get_group(group_id))

    found = await in_unit(request, work, readonly=True)
    context = odata.context_url(request, selection.fragment("groups") + "/$entity")
    return {"@odata.context": context, **selection.project(found)}


@router.get("/groups/{group_id}/members")
async def list_members(group_id: str, request: Request, principal: Caller) -> dict[str, Any]:
    query = odata.list_query(
        request,
        type_name=MEMBER_TYPE_NAME,
        resource="User",
        properties=MEMBER_PROPERTIES,
        filters=USER_FILTERS,
        order="users",
        default=USER_DEFAULT_PROPERTIES,
    )

    def work(tx: Tx, env: Env) -> tuple[list[dict[str, Any]], tuple[str, str] | None, int | None]:
        service = DirectoryService(tx, env, principal)
        found = service.search_members(
            group_id, query.conditions, after=query.page.after, limit=query.page.top
        )
        count = service.count_members(group_id, query.conditions) if query.count else None
        return [{"@odata.type": USER_TYPE, **user_json(u)} for u in found.items], found.next_after, count

    items, next_after, count = await in_unit(request, work, readonly=True)
    return odata.collection(
        request,
        query.selection.fragment("directoryObjects"),
        [query.selection.project(i) for i in items],
        page=query.page,
        next_after=next_after,
        count=count,
    )


@router.get("/groups/{group_id}/members/$count")
async def count_members(group_id: str, request: Request, principal: Caller) -> PlainTextResponse:
    conditions = odata.count_query(request, resource="User", filters=USER_FILTERS)

    def work(tx: Tx, env: Env) -> int:
        return DirectoryService(tx, env, principal).count_members(group_id, conditions)

    return PlainTextResponse(str(await in_unit(request, work, readonly=True)))


def member_id_of(data: dict[str, Any], what: str = "member") -> str:
    """The object id in `{"@odata.id": ".../directoryObjects/{id}"}` (or `.../users/{id}`).

    Any host is accepted: scripts written for Graph keep graph.microsoft.com in the reference
    when only their base URL changes."""
    unknown = sorted(k for k in data if not k.startswith("@odata."))
    if unknown:
        raise GraphError(400, "badRequest", f"Invalid property '{unknown[0]}' for a reference.")
    reference = data.get("@odata.id")
    if not isinstance(reference, str) or not reference.strip():
        raise GraphError(
            400, "badRequest", f"The request body must hold the {what}'s reference in @odata.id."
        )
    segments = [s for s in urlsplit(reference.strip()).path.split("/") if s]
    if len(segments) < 2 or segments[-2].casefold() not in ("directoryobjects", "users") or not segments[-1]:
        raise GraphError(
            400,
            "badRequest",
            f"Invalid @odata.id '{reference}': "
            "expected a URL ending in /directoryObjects/{id} or /users/{id}.",
        )
    return unquote(segments[-1])


@router.post("/groups/{group_id}/members/$ref", status_code=204)
async def add_member(group_id: str, request: Request, principal: Caller) -> Response:
    member = member_id_of(await read_json(request))

    def work(tx: Tx, env: Env) -> None:
        DirectoryService(tx, env, principal).add_member(group_id, member)

    await in_unit(request, work)
    return Response(status_code=204)


@router.delete("/groups/{group_id}/members/{member_id}/$ref", status_code=204)
async def remove_member(group_id: str, member_id: str, request: Request, principal: Caller) -> Response:
    def work(tx: Tx, env: Env) -> None:
        DirectoryService(tx, env, principal).remove_member(group_id, member_id)

    await in_unit(request, work)
    return Response(status_code=204)
