"""Graph-compatible routes: a user's manager (`/users/{id}/manager`, `.../manager/$ref`) and the users
reporting to them (`/users/{id}/directReports`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import NotFound
from passbridge.graph import odata
from passbridge.graph.auth import caller
from passbridge.graph.body import read_json
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.groups import member_id_of
from passbridge.graph.shapes import user_json
from passbridge.graph.users import DEFAULT_PROPERTIES, PROPERTIES
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

USER_TYPE = "#microsoft.graph.user"
TYPE_NAME = "microsoft.graph.directoryObject"


def _no_manager() -> NotFound:
    # Graph's answer for a user without a manager, on GET and on DELETE of the reference alike.
    return NotFound(
        "Resource 'manager' does not exist or one of its queried reference-property objects are not present.",
        kind="manager",
    )


@router.get("/users/{ref}/manager")
async def get_manager(ref: str, request: Request, principal: Caller) -> dict[str, Any]:
    selection = odata.entity_query(
        request, type_name=TYPE_NAME, properties=PROPERTIES, default=DEFAULT_PROPERTIES
    )

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        manager = DirectoryService(tx, env, principal).get_manager(ref)
        if manager is None:
            raise _no_manager()
        return {"@odata.type": USER_TYPE, **user_json(manager)}

    found = await in_unit(request, work, readonly=True)
    context = odata.context_url(request, selection.fragment("directoryObjects") + "/$entity")
    return {"@odata.context": context, **selection.project(found)}


@router.put("/users/{ref}/manager/$ref", status_code=204)
async def set_manager(ref: str, request: Request, principal: Caller) -> Response:
    manager_ref = member_id_of(await read_json(request), what="manager")

    def work(tx: Tx, env: Env) -> None:
        DirectoryService(tx, env, principal).set_manager(ref, manager_ref)

    await in_unit(request, work)
    return Response(status_code=204)


@router.delete("/users/{ref}/manager/$ref", status_code=204)
async def remove_manager(ref: str, request: Request, principal: Caller) -> Response:
    def work(tx: Tx, env: Env) -> None:
        directory = DirectoryService(tx, env, principal)
        if directory.get_manager(ref) is None:
            raise _no_manager()
        directory.set_manager(ref, None)

    await in_unit(request, work)
    return Response(status_code=204)


@router.get("/users/{ref}/directReports")
async def list_direct_reports(ref: str, request: Request, principal: Caller) -> dict[str, Any]:
    query = odata.list_query(
        request,
        type_name=TYPE_NAME,
        resource="User",
        properties=PROPERTIES,
        filters={},
        order="directReports",
        default=DEFAULT_PROPERTIES,
    )
    if query.count:
        raise GraphError(400, "Request_UnsupportedQuery", "Passbridge does not count directReports.")

    def work(tx: Tx, env: Env) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        found = DirectoryService(tx, env, principal).direct_reports(
            ref, after=query.page.after, limit=query.page.top
        )
        return [{"@odata.type": USER_TYPE, **user_json(u)} for u in found.items], found.next_after

    items, next_after = await in_unit(request, work, readonly=True)
    return odata.collection(
        request,
        query.selection.fragment("directoryObjects"),
        [query.selection.project(i) for i in items],
        page=query.page,
        next_after=next_after,
    )
