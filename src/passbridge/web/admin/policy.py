"""Admin portal: the authentication methods policy (Temporary Access Pass, passkeys, authenticator apps).

Each configuration is its own form, saved through PolicyService as Graph's PATCH is: validated as a whole,
so a refused value changes nothing and the page shows why next to the field, with what was typed kept.
Policy Administrators and Global Administrators edit; Global Readers read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import DomainError
from passbridge.methods.policy_rules import FIDO2, SOFTWARE_OATH
from passbridge.passes.policy import WRITE_ROLES, MethodChanges, MethodsPolicy, PolicyService, TapChanges
from passbridge.passes.policy_rules import ALL_USERS, PolicyState, Target
from passbridge.services.context import Env
from passbridge.store.models import Group
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, BadForm, Refused, administrator, bad_form, in_tx, posted_fields
from passbridge.web.pages import page, see_other

router = APIRouter(include_in_schema=False)

# The policy's numbers as the form names them, with Graph's names (which the service's messages use).
TAP_NUMBERS = {
    "minimum_lifetime": "minimumLifetimeInMinutes",
    "maximum_lifetime": "maximumLifetimeInMinutes",
    "default_lifetime": "defaultLifetimeInMinutes",
    "default_length": "defaultLength",
}
LABELS = {
    "minimumLifetimeInMinutes": "the minimum lifetime",
    "maximumLifetimeInMinutes": "the maximum lifetime",
    "defaultLifetimeInMinutes": "the default lifetime",
    "defaultLength": "the length",
    "includeTargets": "who may use it",
    "excludeTargets": "who may not",
}
SECTIONS = {"tap": "Temporary Access Pass", "passkeys": "Passkeys", "apps": "Authenticator apps"}
CONFIG_IDS = {"passkeys": FIDO2, "apps": SOFTWARE_OATH}
DONE = "The policy was saved. It applies to the next sign-in and the next pass."


@dataclass(frozen=True)
class PolicyPage:
    policy: MethodsPolicy
    groups: list[Group]


def _read(tx: Tx, env: Env, who: Admin) -> PolicyPage:
    policy = PolicyService(tx, env, who.principal).methods_policy()
    return PolicyPage(policy, DirectoryService(tx, env, who.principal).list_groups())


def _may_edit(who: Admin) -> bool:
    return bool(who.principal.roles & WRITE_ROLES)


async def _render(
    request: Request,
    who: Admin,
    *,
    status: int = 200,
    section: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    try:
        shown = await in_tx(request, lambda tx, env: _read(tx, env, who))
    except DomainError as exc:
        return page(
            "problem.html",
            status=403,
            tenant=who.tenant,
            title="You cannot see the policy",
            message=exc.message,
            link_href="/admin",
            link_text="Back to the admin portal",
        )
    return page(
        "admin/policy.html",
        status=status,
        shown=shown,
        all_users=ALL_USERS,
        section=section,
        values=values or {},
        errors=errors or {},
        notice=notice,
        may_edit=_may_edit(who),
        **who.context("policy"),
    )


@router.get("/admin/policy")
async def policy_page(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    notice = DONE if request.query_params.get("saved") in SECTIONS else None
    return await _render(request, who, notice=notice)


def _targets(fields: list[tuple[str, str]], name: str) -> tuple[Target, ...]:
    return tuple(Target("group", value) for key, value in fields if key == name and value)


def _field_of(message: str) -> str:
    for graph in LABELS:
        if graph in message:
            return graph
    return "form"


def _readable(message: str) -> str:
    """The service's sentence with Graph's property names in the page's words."""
    for graph, label in LABELS.items():
        message = message.replace(graph, label)
    return message[:1].upper() + message[1:]


@router.post("/admin/policy/{section}")
async def save(request: Request, section: str) -> Response:
    try:
        who = await administrator(request)
        fields = await posted_fields(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    if section not in SECTIONS:
        return see_other("/admin/policy")
    form = dict(fields)
    errors: dict[str, str] = {}
    state = PolicyState.ENABLED if form.get("state") == "enabled" else PolicyState.DISABLED
    include, exclude = _targets(fields, "include"), _targets(fields, "exclude")
    if section == "tap":
        numbers: dict[str, int] = {}
        for name, graph in TAP_NUMBERS.items():
            text = form.get(name, "").strip()
            if not text.isdigit() or len(text) > 6:
                errors[graph] = _readable(f"{graph} must be a whole number.")
            else:
                numbers[name] = int(text)
        changes: TapChanges | MethodChanges = TapChanges(
            state=state,
            is_usable_once=form.get("is_usable_once") == "yes",
            include_symbols=form.get("include_symbols") == "yes",
            require_reason=form.get("require_reason") == "yes",
            enforced_purpose=form.get("enforced_purpose") or "",
            revoke_multi_use_after_passkey=form.get("revoke_multi_use") == "yes",
            include_targets=include,
            exclude_targets=exclude,
            minimum_lifetime=numbers.get("minimum_lifetime"),
            maximum_lifetime=numbers.get("maximum_lifetime"),
            default_lifetime=numbers.get("default_lifetime"),
            default_length=numbers.get("default_length"),
        )
    else:
        self_service = (form.get("self_service") == "yes") if section == "passkeys" else None
        changes = MethodChanges(
            state=state,
            include_targets=include,
            exclude_targets=exclude,
            is_self_service_registration_allowed=self_service,
        )
    if not errors:

        def work(tx: Tx, env: Env) -> None:
            service = PolicyService(tx, env, who.principal)
            if isinstance(changes, TapChanges):
                service.update_tap(changes)
            else:
                service.update_method(CONFIG_IDS[section], changes)

        try:
            await in_tx(request, work, write=True)
        except DomainError as exc:
            errors[_field_of(exc.message)] = _readable(exc.message)
        else:
            return see_other(f"/admin/policy?saved={section}#{section}")
    values = {
        "state": form.get("state"),
        "include": [t.id for t in include],
        "exclude": [t.id for t in exclude],
    }
    values.update(
        {
            k: form.get(k, "")
            for k in (
                *TAP_NUMBERS,
                "is_usable_once",
                "include_symbols",
                "require_reason",
                "enforced_purpose",
                "revoke_multi_use",
                "self_service",
            )
        }
    )
    return await _render(request, who, status=400, section=section, values=values, errors=errors)
