"""Admin portal: passkey profiles (the policy page, Passkeys, profiles): list, add, edit, delete.

Each save goes through PasskeyProfileAdmin, a change of the Fido2 configuration as Graph's PATCH is:
checked as a whole and audited; a refused value changes nothing and the form comes back with the reason
and what was typed. Policy Administrators and Global Administrators edit; Global Readers read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import DomainError
from passbridge.methods.passkey_profile_admin import PasskeyProfileAdmin, ProfileSpec, ProfileView
from passbridge.methods.passkey_profiles import (
    DEFAULT_PROFILE_ID,
    AttestationEnforcement,
    KeyRestrictions,
    PasskeyType,
    split_pem,
)
from passbridge.passes.policy import WRITE_ROLES, PolicyService
from passbridge.passes.policy_rules import ALL_USERS
from passbridge.services.context import Env
from passbridge.store.models import Group
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, BadForm, Refused, administrator, bad_form, in_tx, posted_fields
from passbridge.web.pages import page, see_other

router = APIRouter(include_in_schema=False)
HOME = "/admin/policy/passkey-profiles"
TYPES = {
    "deviceBound": (PasskeyType.DEVICE_BOUND,),
    "both": (PasskeyType.DEVICE_BOUND, PasskeyType.SYNCED),
    "synced": (PasskeyType.SYNCED,),
}
# Graph's property names in the service's messages, in the form's words.
WORDS = {
    "keyRestrictions.aaGuids": "AAGUIDs",
    "keyRestrictions.enforcementType": "Models",
    "passkeyTypes": "Passkey types",
    "allowedPasskeyProfiles": "Applies to",
    "includeTargets": "Applies to",
}
DONE = {
    "added": "The passkey profile was added. It applies to the next passkey registered.",
    "saved": "The passkey profile was saved. It applies to the next passkey registered.",
    "deleted": "The passkey profile was deleted. Its groups now get the next matching profile.",
}


@dataclass(frozen=True)
class Shown:
    profiles: list[ProfileView]
    groups: list[Group]

    def find(self, profile_id: str) -> ProfileView | None:
        return next((v for v in self.profiles if v.profile.id == profile_id), None)


def _read(tx: Tx, env: Env, who: Admin) -> Shown:
    profiles = PasskeyProfileAdmin(PolicyService(tx, env, who.principal)).all()
    return Shown(profiles, DirectoryService(tx, env, who.principal).list_groups())


async def _render(
    request: Request,
    who: Admin,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    try:
        shown = await in_tx(request, lambda tx, env: _read(tx, env, who))
    except DomainError as exc:
        return _problem(who, 403, "You cannot see the policy", exc.message)
    if "profile_id" in context and context["profile_id"] and shown.find(context["profile_id"]) is None:
        return _problem(who, 404, "No such passkey profile", "It may have been deleted. Open the list again.")
    return page(
        template,
        status=status,
        shown=shown,
        all_users=ALL_USERS,
        default_id=DEFAULT_PROFILE_ID,
        may_edit=bool(who.principal.roles & WRITE_ROLES),
        group_names={**{g.id: g.display_name for g in shown.groups}, ALL_USERS: "All users"},
        **{"values": {}, "error": None, "notice": None, "profile_id": None, **context},
        **who.context("policy"),
    )


def _problem(who: Admin, status: int, title: str, message: str) -> Response:
    return page(
        "problem.html",
        status=status,
        tenant=who.tenant,
        title=title,
        message=message,
        link_href=HOME,
        link_text="Back to the passkey profiles",
    )


@router.get(HOME)
async def profiles_page(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    notice = DONE.get(request.query_params.get("done", ""))
    return await _render(request, who, "admin/passkey_profiles.html", notice=notice)


@router.get(HOME + "/new")
async def new_profile_page(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    return await _render(request, who, "admin/passkey_profile.html")


@router.get(HOME + "/{profile_id}")
async def profile_page(request: Request, profile_id: str) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    return await _render(request, who, "admin/passkey_profile.html", profile_id=profile_id.lower())


def _spec(fields: list[tuple[str, str]]) -> ProfileSpec:
    form = dict(fields)
    kind = form.get("restriction", "any")
    aaguids = tuple(line.strip() for line in form.get("aaguids", "").split() if line.strip())
    restrictions = KeyRestrictions(
        kind in ("allow", "block"), kind if kind in ("allow", "block") else "block", aaguids
    )
    return ProfileSpec(
        name=" ".join(form.get("name", "").split()),
        passkey_types=TYPES.get(form.get("passkey_types", ""), ()),
        attestation=(
            AttestationEnforcement.REGISTRATION_ONLY
            if form.get("attestation") == "yes"
            else AttestationEnforcement.DISABLED
        ),
        key_restrictions=restrictions,
        trust_roots=split_pem(form.get("trust_roots", "")),
        target_ids=tuple(v for k, v in fields if k == "group" and v),
    )


def _readable(message: str) -> str:
    for graph, words in WORDS.items():
        message = message.replace(graph, words)
    return message


def _values(fields: list[tuple[str, str]]) -> dict[str, Any]:
    form = dict(fields)
    return {**form, "groups": [v for k, v in fields if k == "group"]}


@router.post(HOME + "/new")
async def add_profile(request: Request) -> Response:
    return await _save(request, None)


@router.post(HOME + "/{profile_id}")
async def save_profile(request: Request, profile_id: str) -> Response:
    return await _save(request, profile_id.lower())


async def _save(request: Request, profile_id: str | None) -> Response:
    try:
        who = await administrator(request)
        fields = await posted_fields(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    spec = _spec(fields)

    def work(tx: Tx, env: Env) -> None:
        admin = PasskeyProfileAdmin(PolicyService(tx, env, who.principal))
        if profile_id is None:
            admin.add(spec)
        else:
            admin.update(profile_id, spec)

    try:
        await in_tx(request, work, write=True)
    except DomainError as exc:
        return await _render(
            request,
            who,
            "admin/passkey_profile.html",
            status=400,
            profile_id=profile_id,
            values=_values(fields),
            error=_readable(exc.message),
        )
    return see_other(f"{HOME}?done={'added' if profile_id is None else 'saved'}")


@router.post(HOME + "/{profile_id}/delete")
async def delete_profile(request: Request, profile_id: str) -> Response:
    try:
        who = await administrator(request)
        await posted_fields(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    try:
        await in_tx(
            request,
            lambda tx, env: PasskeyProfileAdmin(PolicyService(tx, env, who.principal)).delete(profile_id),
            write=True,
        )
    except DomainError as exc:
        return await _render(request, who, "admin/passkey_profiles.html", status=400, error=exc.message)
    return see_other(f"{HOME}?done=deleted")
