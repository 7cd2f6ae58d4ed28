"""A Passbridge extension in Graph's shape: `GET` and `PATCH /passbridge/joinerWorkflow`, the joiner
workflow's settings (docs/joiner-workflow.md). Graph has no such resource: Entra's equivalent is a Lifecycle
Workflows task ("Generate Temporary Access Pass and send via email to user's manager")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from passbridge.clock import iso_z
from passbridge.graph.auth import established
from passbridge.graph.body import parse
from passbridge.graph.common import in_unit
from passbridge.graph.odata import context_url
from passbridge.joiner.rules import JoinerSettings
from passbridge.joiner.service import JoinerService
from passbridge.services.context import Env
from passbridge.store.tx import Tx

router = APIRouter()
PATH = "/passbridge/joinerWorkflow"


class JoinerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    isEnabled: bool | None = None
    daysBeforeHireDate: int | None = None
    lifetimeInMinutes: int | None = None
    isUsableOnce: bool | None = None
    mailPrivateAddress: bool | None = None


def _json(request: Request, value: JoinerSettings, modified: Any) -> dict[str, Any]:
    return {
        "@odata.context": context_url(request, "passbridge/joinerWorkflow/$entity"),
        "isEnabled": value.enabled,
        "daysBeforeHireDate": value.days_before,
        "lifetimeInMinutes": value.lifetime_minutes,
        "isUsableOnce": value.is_usable_once,
        "mailPrivateAddress": value.mail_private,
        "enabledDateTime": iso_z(value.enabled_at),
        "lastModifiedDateTime": iso_z(modified),
    }


@router.get(PATH)
async def get_joiner(request: Request) -> dict[str, Any]:
    who = established(request)

    def work(tx: Tx, env: Env) -> dict[str, Any]:
        value, modified = JoinerService(tx, env, who).get()
        return _json(request, value, modified)

    return await in_unit(request, work, readonly=True)


@router.patch(PATH)
async def patch_joiner(request: Request) -> Response:
    who = established(request)
    body = await parse(request, JoinerPatch)
    names = {
        "isEnabled": "enabled",
        "daysBeforeHireDate": "days_before",
        "lifetimeInMinutes": "lifetime_minutes",
        "isUsableOnce": "is_usable_once",
        "mailPrivateAddress": "mail_private",
    }
    changes = {names[k]: v for k, v in body.model_dump(exclude_unset=True).items()}
    for required in ("enabled", "is_usable_once", "mail_private", "days_before"):
        if required in changes and changes[required] is None:
            changes.pop(required)

    def work(tx: Tx, env: Env) -> None:
        JoinerService(tx, env, who).set(**changes)

    await in_unit(request, work)
    return Response(status_code=204)
