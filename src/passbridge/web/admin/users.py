"""Admin portal: finding people, a person's page (their methods and what may be done), creating users."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.directory.people import find_people
from passbridge.directory.service import DirectoryService, Found
from passbridge.domain.errors import DomainError, NotFound
from passbridge.methods.passwordless import PasswordlessMethodService
from passbridge.passes.service import TapService
from passbridge.services import admin
from passbridge.services.context import Env, Principal
from passbridge.store.models import User
from passbridge.store.tx import Tx
from passbridge.tokens.revocation import RevocationService
from passbridge.web.admin import details
from passbridge.web.admin.base import (
    Admin,
    BadForm,
    Refused,
    administrator,
    bad_form,
    in_tx,
    no_such_user,
    posted,
)
from passbridge.web.pages import page, see_other

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
MAX_QUERY = 256
# What a finished action says on the user's page (?done=...): fixed sentences, never echoed input.
DONE = {
    "created": "The user was created. Issue them a Temporary Access Pass to let them sign in.",
    "disabled": "The account was disabled: their sessions and tokens ended, and they cannot sign in.",
    "enabled": "The account was enabled.",
    "revoked": "Their sessions and refresh tokens ended: every device must sign in again.",
    "method-deleted": "The sign-in method was deleted.",
    "pass-deleted": "The Temporary Access Pass was deleted.",
    "edited": "The user's details were saved.",
    "group-added": "They were added to the group.",
    "group-removed": "They were removed from the group.",
    "role-added": "The role was assigned. It applies from their next sign-in or token.",
    "role-removed": "The role was removed.",
}
NOT_SAVED = "The details were not saved: correct the field marked below."
METHOD_REASONS = {
    "EnabledByPolicy": "Usable",
    "DisabledByPolicy": "Turned off by policy",
    "Expired": "Expired",
    "NotYetValid": "Not valid yet",
    "OneTimeUsed": "Used",
}


@router.get("/admin")
async def admin_home(request: Request) -> Response:
    try:
        await administrator(request)
    except Refused as refused:
        return refused.response
    return see_other("/admin/users")


def _after(request: Request) -> tuple[str, str] | None:
    """Where a page starts: after the user with this sign-in key and id (the previous page's last), as the
    directory pages by key, not by offset, so deep pages cost what the first does."""
    key, user_id = request.query_params.get("after", ""), request.query_params.get("after_id", "")
    return (key[:MAX_QUERY], user_id[:64]) if key and user_id else None


@router.get("/admin/users")
async def users(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    query = (request.query_params.get("q") or "").strip()[:MAX_QUERY]
    after = _after(request)

    def work(tx: Tx, _env: Env) -> Found[User]:
        return find_people(tx, who.principal, query, after=after, limit=PAGE_SIZE)

    error: str | None = None
    try:
        found = await in_tx(request, work)
    except DomainError as exc:
        found, error = Found([], None), exc.message
    first = "/admin/users" + (f"?{urlencode({'q': query})}" if query else "")
    following = None
    if found.next_after is not None:
        key, user_id = found.next_after
        following = "/admin/users?" + urlencode(
            {**({"q": query} if query else {}), "after": key, "after_id": user_id}
        )
    return page(
        "admin/users.html",
        query=query,
        people=found.items,
        error=error,
        first_url=first if after is not None else None,
        next_url=following,
        may_create=bool(who.principal.roles & admin.USER_MANAGERS),
        **who.context("users"),
    )


@router.get("/admin/users/new")
async def new_user(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    return page("admin/new_user.html", values={}, errors={}, **who.context("users"))


@router.post("/admin/users/new")
async def create_user(request: Request) -> Response:
    try:
        who = await administrator(request)
        form = await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    values = {k: form.get(k, "").strip() for k in ("upn", "display_name", "mail")}
    errors: dict[str, str] = {}
    if not values["upn"]:
        errors["upn"] = "Enter the user's sign-in name, such as name@contoso.com."
    if not errors:

        def work(tx: Tx, env: Env) -> User:
            return DirectoryService(tx, env, who.principal).add_user(
                values["upn"], display_name=values["display_name"] or None, mail=values["mail"] or None
            )

        try:
            user = await in_tx(request, work, write=True)
        except DomainError as exc:
            errors[_field_of(exc.message)] = exc.message
        else:
            return see_other(f"/admin/users/{user.id}?done=created")
    return page("admin/new_user.html", status=400, values=values, errors=errors, **who.context("users"))


def _field_of(message: str) -> str:
    """Which field a service's refusal is about, so the page shows it next to that field."""
    lowered = message.lower()
    if "displayname" in lowered or "display name" in lowered:
        return "display_name"
    if "mail" in lowered and "principal" not in lowered:
        return "mail"
    if "principal" in lowered or "upn" in lowered or "already" in lowered or "domain" in lowered:
        return "upn"
    return "form"


@router.get("/admin/users/{user_ref}")
async def user_page(request: Request, user_ref: str) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    return await _render_user(request, who, user_ref, notice=DONE.get(request.query_params.get("done", "")))


async def _render_user(
    request: Request,
    who: Admin,
    user_ref: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    edit: details.Edit | None = None,
) -> Response:
    try:
        overview = await in_tx(request, lambda tx, env: admin.user_overview(tx, env, who.principal, user_ref))
    except NotFound:
        return no_such_user(who)
    except DomainError as exc:
        return page(
            "problem.html",
            status=403,
            tenant=who.tenant,
            title="You cannot see this user",
            message=exc.message,
            link_href="/admin/users",
            link_text="Back to users",
        )
    return page(
        "admin/user.html",
        status=400 if error else 200,
        person=overview,
        notice=notice,
        error=error,
        reasons=METHOD_REASONS,
        detail_fields=details.FIELDS,
        edit=edit or details.Edit(details.form_values(overview.user, overview.manager)),
        **who.context("users"),
    )


# What a post on a user's page does: given the transaction, the administrator, the user and the posted form,
# it changes something through a service and says which DONE sentence the page then shows.
Action = Callable[[Tx, Env, Principal, str, dict[str, str]], str]


async def _act(request: Request, user_ref: str, action: Action) -> Response:
    """Check the administrator and the form's token, run `action` in one transaction, then show the user's
    page with what was done, or with the service's refusal next to nothing changed."""
    try:
        who = await administrator(request)
        form = await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    try:
        done = await in_tx(
            request, lambda tx, env: action(tx, env, who.principal, user_ref, form), write=True
        )
    except DomainError as exc:
        return await _render_user(request, who, user_ref, error=exc.message)
    return see_other(f"/admin/users/{user_ref}?done={done}")


def _set_enabled(enabled: bool) -> Action:
    def action(tx: Tx, env: Env, principal: Principal, user_ref: str, _form: dict[str, str]) -> str:
        DirectoryService(tx, env, principal).set_account_enabled(user_ref, enabled)
        return "enabled" if enabled else "disabled"

    return action


def _revoke(tx: Tx, env: Env, principal: Principal, user_ref: str, _form: dict[str, str]) -> str:
    RevocationService(tx, env, principal).revoke(user_ref)
    return "revoked"


def _group(add: bool) -> Action:
    def action(tx: Tx, env: Env, principal: Principal, user_ref: str, form: dict[str, str]) -> str:
        directory = DirectoryService(tx, env, principal)
        if add:
            directory.add_member(form.get("group", ""), user_ref)
            return "group-added"
        directory.remove_member(form.get("group", ""), user_ref)
        return "group-removed"

    return action


def _role(add: bool) -> Action:
    def action(tx: Tx, env: Env, principal: Principal, user_ref: str, form: dict[str, str]) -> str:
        directory = DirectoryService(tx, env, principal)
        if add:
            directory.assign_role(form.get("role", ""), user_ref)
            return "role-added"
        directory.remove_role(form.get("role", ""), user_ref)
        return "role-removed"

    return action


def _delete_method(method_id: str) -> Action:
    def action(tx: Tx, env: Env, principal: Principal, user_ref: str, _form: dict[str, str]) -> str:
        passes = TapService(tx, env, principal)
        if any(p.id == method_id for p in passes.list(user_ref)):
            passes.delete(user_ref, method_id)
            return "pass-deleted"
        PasswordlessMethodService(tx, env, principal).delete_any(user_ref, method_id)
        return "method-deleted"

    return action


@router.post("/admin/users/{user_ref}/edit")
async def edit_user(request: Request, user_ref: str) -> Response:
    """The Details form (web/admin/details.py): a refusal is shown next to its field, the posted values
    kept, and nothing saved."""
    try:
        who = await administrator(request)
        form = await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    try:
        await in_tx(request, lambda tx, env: details.save(tx, env, who.principal, user_ref, form), write=True)
    except details.FieldRefused as refused:
        values = {f.name: form.get(f.name, "") for f in details.FIELDS}
        edit = details.Edit(values, {refused.field: refused.message})
        return await _render_user(request, who, user_ref, error=NOT_SAVED, edit=edit)
    except DomainError as exc:
        return await _render_user(request, who, user_ref, error=exc.message)
    return see_other(f"/admin/users/{user_ref}?done=edited")


@router.post("/admin/users/{user_ref}/groups/add")
async def add_to_group(request: Request, user_ref: str) -> Response:
    return await _act(request, user_ref, _group(add=True))


@router.post("/admin/users/{user_ref}/groups/remove")
async def remove_from_group(request: Request, user_ref: str) -> Response:
    return await _act(request, user_ref, _group(add=False))


@router.post("/admin/users/{user_ref}/roles/add")
async def assign_role(request: Request, user_ref: str) -> Response:
    return await _act(request, user_ref, _role(add=True))


@router.post("/admin/users/{user_ref}/roles/remove")
async def remove_role(request: Request, user_ref: str) -> Response:
    return await _act(request, user_ref, _role(add=False))


@router.post("/admin/users/{user_ref}/disable")
async def disable(request: Request, user_ref: str) -> Response:
    return await _act(request, user_ref, _set_enabled(False))


@router.post("/admin/users/{user_ref}/enable")
async def enable(request: Request, user_ref: str) -> Response:
    return await _act(request, user_ref, _set_enabled(True))


@router.post("/admin/users/{user_ref}/revoke-sessions")
async def revoke_sessions(request: Request, user_ref: str) -> Response:
    return await _act(request, user_ref, _revoke)


@router.post("/admin/users/{user_ref}/methods/{method_id}/delete")
async def delete_method(request: Request, user_ref: str, method_id: str) -> Response:
    return await _act(request, user_ref, _delete_method(method_id))
