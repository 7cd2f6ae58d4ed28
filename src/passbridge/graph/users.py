"""Graph-compatible routes: users (`/users`, `/users/{id | userPrincipalName}`, `/me`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, SecretStr, StrictBool, StrictStr, field_validator, model_validator

from passbridge.directory.service import DirectoryService
from passbridge.graph import odata
from passbridge.graph.auth import caller
from passbridge.graph.body import parse
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.openapi import body
from passbridge.graph.shapes import user_json
from passbridge.services.context import Env, Principal
from passbridge.store.models import User
from passbridge.store.tx import Tx

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

USER_TYPES = ("#microsoft.graph.user", "#microsoft.graph.directoryObject")
TYPE_NAME = "microsoft.graph.user"
PROPERTIES = ("id", "userPrincipalName", "displayName", "mail", "accountEnabled", "createdDateTime")
FILTERS: dict[str, odata.FilterKind] = {
    "id": "id",
    "userPrincipalName": "text",
    "displayName": "text",
    "mail": "text",
    "accountEnabled": "bool",
}
# Graph's mailNickname: up to 64 printable ASCII characters, none of these.
_NICKNAME_FORBIDDEN = frozenset('@()\\[]";:<>, ')


def _drop_annotations(data: Any) -> Any:
    # Typed SDKs annotate nested objects too ("@odata.type" on passwordProfile).
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not k.startswith("@odata.")}
    return data


def _nickname(value: str | None) -> str | None:
    if value is not None and not (
        0 < len(value) <= 64 and all(32 < ord(c) < 127 and c not in _NICKNAME_FORBIDDEN for c in value)
    ):
        raise ValueError('use 1 to 64 ASCII letters, digits and symbols other than @ ( ) \\ [ ] " ; : < > ,')
    return value


class PasswordProfile(BaseModel):
    """Accepted so Graph scripts keep working; Passbridge is passwordless and never keeps it."""

    model_config = ConfigDict(extra="forbid")
    password: SecretStr | None = None
    forceChangePasswordNextSignIn: StrictBool | None = None
    forceChangePasswordNextSignInWithMfa: StrictBool | None = None

    _annotations = model_validator(mode="before")(_drop_annotations)


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accountEnabled: StrictBool = True
    displayName: StrictStr
    userPrincipalName: StrictStr
    mail: StrictStr | None = None
    mailNickname: StrictStr | None = None
    passwordProfile: PasswordProfile | None = None
    passwordPolicies: StrictStr | None = None

    _check_nickname = field_validator("mailNickname")(_nickname)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    passwordProfile: Any = None
    accountEnabled: StrictBool | None = None
    displayName: StrictStr | None = None
    userPrincipalName: StrictStr | None = None
    mail: StrictStr | None = None
    mailNickname: StrictStr | None = None

    _check_nickname = field_validator("mailNickname")(_nickname)


def _entity(request: Request, user: dict[str, Any], selection: odata.Selection) -> dict[str, Any]:
    context = odata.context_url(request, selection.fragment("users") + "/$entity")
    return {"@odata.context": context, **selection.project(user)}


@router.get("/users")
async def list_users(request: Request, principal: Caller) -> dict[str, Any]:
    query = odata.list_query(
        request, type_name=TYPE_NAME, resource="User", properties=PROPERTIES, filters=FILTERS, order="users"
    )

    def work(tx: Tx, env: Env) -> tuple[list[dict[str, Any]], tuple[str, str] | None, int | None]:
        service = DirectoryService(tx, env, principal)
        found = service.search_users(query.conditions, after=query.page.after, limit=query.page.top)
        count = service.count_users(query.conditions) if query.count else None
        return [user_json(u) for u in found.items], found.next_after, count

    items, next_after, count = await in_unit(request, work, readonly=True)
    return odata.collection(
        request,
        query.selection.fragment("users"),
        [query.selection.project(i) for i in items],
        page=query.page,
        next_after=next_after,
        count=count,
    )


@router.get("/users/$count")
async def count_users(request: Request, principal: Caller) -> PlainTextResponse:
    conditions = odata.count_query(request, resource="User", filters=FILTERS)

    def work(tx: Tx, env: Env) -> int:
        return DirectoryService(tx, env, principal).count_users(conditions)

    return PlainTextResponse(str(await in_unit(request, work, readonly=True)))


@router.post("/users", status_code=201, openapi_extra=body(NewUser))
async def create_user(request: Request, principal: Caller) -> dict[str, Any]:
    body = await parse(request, NewUser, accepted_types=USER_TYPES)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        created = DirectoryService(tx, env, principal).add_user(
            body.userPrincipalName,
            display_name=body.displayName,
            mail=body.mail,
            account_enabled=body.accountEnabled,
        )
        return user_json(created)

    return _entity(request, await in_unit(request, work), odata.Selection())


async def _read_one(request: Request, principal: Principal, ref: str | None) -> dict[str, Any]:
    """One user by id or UPN, or the caller when `ref` is None."""
    selection = odata.entity_query(request, type_name=TYPE_NAME, properties=PROPERTIES)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        service = DirectoryService(tx, env, principal)
        found: User = service.me() if ref is None else service.get_user(ref)
        return user_json(found)

    return _entity(request, await in_unit(request, work, readonly=True), selection)


@router.get("/me")
async def get_me(request: Request, principal: Caller) -> dict[str, Any]:
    if principal.kind != "user":
        # Graph's own code and words for an application token on /me.
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    return await _read_one(request, principal, None)


@router.get("/users/{ref}")
async def get_user(ref: str, request: Request, principal: Caller) -> dict[str, Any]:
    return await _read_one(request, principal, ref)


@router.patch("/users/{ref}", status_code=204, openapi_extra=body(UserPatch))
async def update_user(ref: str, request: Request, principal: Caller) -> Response:
    body = await parse(request, UserPatch, accepted_types=USER_TYPES)
    if "passwordProfile" in body.model_fields_set:
        raise GraphError(
            400,
            "badRequest",
            "Passbridge is passwordless: passwordProfile cannot be set. "
            "Issue a Temporary Access Pass to let the user sign in.",
        )
    given = body.model_fields_set - {"mailNickname"}
    for name in sorted(given - {"mail"}):
        if getattr(body, name) is None:
            raise GraphError(400, "badRequest", f"Invalid value for property '{name}': null is not allowed.")
    changes: dict[str, Any] = {}
    if "displayName" in given:
        changes["display_name"] = body.displayName
    if "accountEnabled" in given:
        changes["account_enabled"] = body.accountEnabled
    if "userPrincipalName" in given:
        changes["user_principal_name"] = body.userPrincipalName
    if "mail" in given:
        changes["mail"] = body.mail

    def work(tx: Tx, env: Env) -> None:
        DirectoryService(tx, env, principal).update_user(ref, **changes)

    await in_unit(request, work)
    return Response(status_code=204)


@router.delete("/users/{ref}", status_code=204)
async def delete_user(ref: str, request: Request, principal: Caller) -> Response:
    def work(tx: Tx, env: Env) -> None:
        DirectoryService(tx, env, principal).delete_user(ref)

    await in_unit(request, work)
    return Response(status_code=204)
