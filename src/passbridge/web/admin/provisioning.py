"""Admin portal: provisioning tokens, the bearer tokens HR systems and upstream directories present to
/scim/v2. Made by a Global Administrator and shown once; listed with when each was last used; revoked."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError
from passbridge.scim.tokens import NewToken, ProvisioningTokens
from passbridge.services.context import Env
from passbridge.store.models import ProvisioningToken
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, BadForm, Refused, administrator, bad_form, in_tx, posted
from passbridge.web.pages import SCRIPT_CSP, page, see_other

router = APIRouter(include_in_schema=False)


def _problem(who: Admin, status: int, message: str) -> Response:
    return page(
        "problem.html",
        status=status,
        tenant=who.tenant,
        title="You cannot manage provisioning",
        message=message,
        link_href="/admin/apps",
        link_text="Back to applications",
    )


def _listing(
    request: Request, who: Admin, tokens: list[ProvisioningToken], *, name: str = "", error: str | None = None
) -> Response:
    env: Env = request.app.state.env
    return page(
        "admin/provisioning.html",
        status=400 if error else 200,
        tokens=tokens,
        scim_url=env.settings.base_url.rstrip("/") + "/scim/v2",
        name=name,
        error=error,
        **who.context("apps"),
    )


@router.get("/admin/provisioning")
async def provisioning(request: Request) -> Response:
    try:
        who = await administrator(request)
        tokens = await in_tx(request, lambda tx, env: ProvisioningTokens(tx, env, who.principal).list())
    except Refused as refused:
        return refused.response
    except DomainError as exc:
        return _problem(who, 403, exc.message)
    return _listing(request, who, tokens)


@router.post("/admin/provisioning/new")
async def add_token(request: Request) -> Response:
    try:
        who = await administrator(request)
        form = await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    name = form.get("name", "").strip()

    def work(tx: Tx, env: Env) -> NewToken:
        return ProvisioningTokens(tx, env, who.principal).add(name)

    try:
        if not name:
            raise DomainError("Enter a name that says which system will use the token, such as 'Workday'.")
        made = await in_tx(request, work, write=True)
    except DomainError as exc:
        try:
            tokens = await in_tx(request, lambda tx, env: ProvisioningTokens(tx, env, who.principal).list())
        except DomainError:
            return _problem(who, 403, exc.message)
        return _listing(request, who, tokens, name=name, error=exc.message)
    env: Env = request.app.state.env
    return page(
        "admin/provisioning_token.html",
        headers=SCRIPT_CSP,
        token=made.token,
        value=made.value,
        scim_url=env.settings.base_url.rstrip("/") + "/scim/v2",
        **who.context("apps"),
    )


@router.post("/admin/provisioning/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> Response:
    try:
        who = await administrator(request)
        await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    try:
        await in_tx(
            request, lambda tx, env: ProvisioningTokens(tx, env, who.principal).revoke(token_id), write=True
        )
    except DomainError as exc:
        return _problem(who, 403 if "role" in exc.message else 404, exc.message)
    return see_other("/admin/provisioning")
