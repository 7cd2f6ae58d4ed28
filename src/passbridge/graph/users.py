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
# What a user answers without $select; Graph returns the other HR properties only on $select.
DEFAULT_PROPERTIES = (
    "id",
    "userPrincipalName",
    "displayName",
    "mail",
    "accountEnabled",
    "createdDateTime",
    "jobTitle",
    "mobilePhone",
    "officeLocation",
)
PROPERTIES = (
    *DEFAULT_PROPERTIES,
    "employeeId",
    "employeeType",
    "employeeHireDate",
    "department",
    "companyName",
    "usageLocation",
    "otherMails",
)
# HR's text properties: settable, cleared by null, filtered with eq and startswith.
HR_TEXT = {
    "employeeId": "employee_id",
    "employeeType": "employee_type",
    "department": "department",
    "jobTitle": "job_title",
    "companyName": "company_name",
    "officeLocation": "office_location",
    "usageLocation": "usage_location",
    "mobilePhone": "mobile_phone",
}
FILTERS: dict[str, odata.FilterKind] = {
    "id": "id",
    "userPrincipalName": "text",
    "displayName": "text",
    "mail": "text",
    "accountEnabled": "bool",
    **dict.fromkeys(HR_TEXT, "text"),
    "employeeHireDate": "datetime",
}
ORDERABLE = ("displayName", "userPrincipalName")
# Properties a PATCH may set to null, which clears them.
NULLABLE = frozenset({"mail", *HR_TEXT, "employeeHireDate", "otherMails"})
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


def _hire_date(value: str | None) -> str | None:
    if value is not None and odata.parse_datetime_offset(value.strip()) is None:
        raise ValueError(
            "cannot convert it to Edm.DateTimeOffset; give a date and time with its offset, "
            "such as 2027-01-04T00:00:00Z"
        )
    return value


class HrFields(BaseModel):
    """What HR systems set; rules.py checks the values (lengths, country codes, addresses)."""

    model_config = ConfigDict(extra="forbid")
    employeeId: StrictStr | None = None
    employeeType: StrictStr | None = None
    employeeHireDate: StrictStr | None = None
    department: StrictStr | None = None
    jobTitle: StrictStr | None = None
    companyName: StrictStr | None = None
    officeLocation: StrictStr | None = None
    usageLocation: StrictStr | None = None
    mobilePhone: StrictStr | None = None
    otherMails: list[StrictStr] | None = None

    _check_hire_date = field_validator("employeeHireDate")(_hire_date)

    def hr_changes(self) -> dict[str, Any]:
        """The HR properties the body holds, as DirectoryService's keywords (None clears)."""
        given = self.model_fields_set
        changes: dict[str, Any] = {HR_TEXT[name]: getattr(self, name) for name in HR_TEXT if name in given}
        if "employeeHireDate" in given:
            text = self.employeeHireDate
            hired = None if text is None else odata.parse_datetime_offset(text.strip())
            changes["employee_hire_date"] = hired
        if "otherMails" in given:
            changes["other_mails"] = self.otherMails
        return changes


class NewUser(HrFields):
    accountEnabled: StrictBool = True
    displayName: StrictStr
    userPrincipalName: StrictStr
    mail: StrictStr | None = None
    mailNickname: StrictStr | None = None
    passwordProfile: PasswordProfile | None = None
    passwordPolicies: StrictStr | None = None

    _check_nickname = field_validator("mailNickname")(_nickname)


class UserPatch(HrFields):
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
        request,
        type_name=TYPE_NAME,
        resource="User",
        properties=PROPERTIES,
        filters=FILTERS,
        order="users",
        orderable=ORDERABLE,
        default=DEFAULT_PROPERTIES,
    )
    order = query.order

    def work(tx: Tx, env: Env) -> tuple[list[dict[str, Any]], tuple[str, str] | None, int | None]:
        service = DirectoryService(tx, env, principal)
        found = service.search_users(
            query.conditions,
            after=query.page.after,
            limit=query.page.top,
            order="displayName" if order is not None and order.name == "displayName" else "userPrincipalName",
            descending=order is not None and order.descending,
        )
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
            **body.hr_changes(),
        )
        return user_json(created)

    return _entity(request, await in_unit(request, work), odata.Selection(default=DEFAULT_PROPERTIES))


async def _read_one(request: Request, principal: Principal, ref: str | None) -> dict[str, Any]:
    """One user by id or UPN, or the caller when `ref` is None."""
    selection = odata.entity_query(
        request, type_name=TYPE_NAME, properties=PROPERTIES, default=DEFAULT_PROPERTIES
    )

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
    for name in sorted(given - NULLABLE):
        if getattr(body, name) is None:
            raise GraphError(400, "badRequest", f"Invalid value for property '{name}': null is not allowed.")
    changes: dict[str, Any] = body.hr_changes()
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
