"""Graph-compatible routes: authentication strength policies and the method modes they are made of.

`/policies/authenticationStrengthPolicies` as Graph v1.0 serves it: list, create (201), get, PATCH of the
name and description (204), DELETE (204), the `updateAllowedCombinations` action (200 with Graph's
updateAllowedCombinationsResult) and the list of authenticationMethodModes. The built-in policies are
listed and read like the custom ones and refuse every change (methods/strength_policies.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictStr

from passbridge.clock import iso_z
from passbridge.graph.auth import caller
from passbridge.graph.body import parse
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.odata import context_url
from passbridge.graph.openapi import body
from passbridge.methods.strength import MODE_DETAILS, StrengthPolicy
from passbridge.methods.strength_policies import StrengthService, require_may_change, require_may_read
from passbridge.services.context import Principal

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

PATH = "/policies/authenticationStrengthPolicies"
POLICY_TYPE = "#microsoft.graph.authenticationStrengthPolicy"


def strength_json(policy: StrengthPolicy) -> dict[str, Any]:
    """A policy with Graph's names; shared by the API and `passbridge strength ... --json`."""
    return {
        "id": policy.id,
        "createdDateTime": iso_z(policy.created),
        "modifiedDateTime": iso_z(policy.modified),
        "displayName": policy.display_name,
        "description": policy.description,
        "policyType": policy.policy_type,
        "requirementsSatisfied": policy.requirements_satisfied,
        "allowedCombinations": policy.allowed_combinations,
    }


def policy_json(request: Request, policy: StrengthPolicy) -> dict[str, Any]:
    return {
        **strength_json(policy),
        "combinationConfigurations@odata.context": context_url(
            request, f"policies/authenticationStrengthPolicies('{policy.id}')/combinationConfigurations"
        ),
        "combinationConfigurations": [],
    }


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Read-only properties a client may send back as it read them (an SDK round-trip); ignored.
    id: StrictStr | None = None
    createdDateTime: StrictStr | None = None
    modifiedDateTime: StrictStr | None = None
    policyType: StrictStr | None = None
    requirementsSatisfied: StrictStr | None = None
    combinationConfigurations: list[Any] | None = None


class NewStrengthPolicy(_Body):
    displayName: StrictStr | None = None
    description: StrictStr | None = None
    allowedCombinations: list[StrictStr] | None = None


class StrengthPolicyPatch(_Body):
    displayName: StrictStr | None = None
    description: StrictStr | None = None
    allowedCombinations: list[StrictStr] | None = None


class AllowedCombinationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowedCombinations: list[StrictStr] | None = None


def _required(value: Any, name: str) -> Any:
    if value is None:
        raise GraphError(400, "badRequest", f"The property '{name}' is required.")
    return value


@router.get(PATH)
async def list_policies(request: Request, who: Caller) -> dict[str, Any]:
    found = await in_unit(request, lambda tx, env: StrengthService(tx, env, who).list(), readonly=True)
    return {
        "@odata.context": context_url(request, "policies/authenticationStrengthPolicies"),
        "value": [policy_json(request, p) for p in found],
    }


@router.post(PATH, status_code=201, openapi_extra=body(NewStrengthPolicy))
async def create_policy(request: Request, who: Caller) -> dict[str, Any]:
    require_may_change(who)
    given = await parse(request, NewStrengthPolicy, accepted_types=(POLICY_TYPE,))
    name = _required(given.displayName, "displayName")
    combinations = _required(given.allowedCombinations, "allowedCombinations")
    created = await in_unit(
        request,
        lambda tx, env: StrengthService(tx, env, who).create(name, given.description or "", combinations),
    )
    return {
        "@odata.context": context_url(request, "policies/authenticationStrengthPolicies/$entity"),
        **policy_json(request, created),
    }


# Before the `{policy_id}` routes: routing tries routes in order.
@router.get(PATH + "/authenticationMethodModes")
async def list_modes(request: Request, who: Caller) -> dict[str, Any]:
    require_may_read(who)
    return {
        "@odata.context": context_url(request, "authenticationMethodModeDetail"),
        "value": [
            {
                "id": detail.mode.value,
                "displayName": detail.display_name,
                "authenticationMethod": detail.authentication_method,
            }
            for detail in MODE_DETAILS
        ],
    }


@router.get(PATH + "/{policy_id}")
async def get_policy(request: Request, policy_id: str, who: Caller) -> dict[str, Any]:
    found = await in_unit(
        request, lambda tx, env: StrengthService(tx, env, who).get(policy_id), readonly=True
    )
    return {
        "@odata.context": context_url(request, "policies/authenticationStrengthPolicies/$entity"),
        **policy_json(request, found),
    }


@router.patch(PATH + "/{policy_id}", status_code=204, openapi_extra=body(StrengthPolicyPatch))
async def patch_policy(request: Request, policy_id: str, who: Caller) -> Response:
    require_may_change(who)
    given = await parse(request, StrengthPolicyPatch, accepted_types=(POLICY_TYPE,))
    if given.allowedCombinations is not None:
        raise GraphError(
            400,
            "badRequest",
            "allowedCombinations cannot be changed with PATCH; use the updateAllowedCombinations action.",
        )
    await in_unit(
        request,
        lambda tx, env: StrengthService(tx, env, who).update(
            policy_id, display_name=given.displayName, description=given.description
        ),
    )
    return Response(status_code=204)


@router.delete(PATH + "/{policy_id}", status_code=204)
async def delete_policy(request: Request, policy_id: str, who: Caller) -> Response:
    await in_unit(request, lambda tx, env: StrengthService(tx, env, who).delete(policy_id))
    return Response(status_code=204)


@router.post(PATH + "/{policy_id}/updateAllowedCombinations", openapi_extra=body(AllowedCombinationsIn))
async def update_allowed_combinations(request: Request, policy_id: str, who: Caller) -> dict[str, Any]:
    require_may_change(who)
    given = await parse(request, AllowedCombinationsIn)
    combinations = _required(given.allowedCombinations, "allowedCombinations")
    result = await in_unit(
        request, lambda tx, env: StrengthService(tx, env, who).update_combinations(policy_id, combinations)
    )
    return {
        "@odata.context": context_url(request, "microsoft.graph.updateAllowedCombinationsResult"),
        "previousCombinations": result.previous,
        "currentCombinations": result.current,
        # Graph lists the Conditional Access policies that use the strength; here, the applications.
        "conditionalAccessReferences": result.references,
        "additionalInformation": None,
    }
