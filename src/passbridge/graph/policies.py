"""Graph-compatible routes: the authentication methods policy and its method configurations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, model_validator

from passbridge.clock import iso_z
from passbridge.domain.policy import PolicyState, TapPolicy, Target
from passbridge.graph.auth import caller
from passbridge.graph.body import parse
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.odata import context_url
from passbridge.graph.openapi import body
from passbridge.services.context import Principal
from passbridge.services.policy import TAP, PolicyService, TapChanges, configuration_id, require_may_change

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

POLICY_PATH = "/policies/authenticationMethodsPolicy"
CONFIGS_PATH = f"{POLICY_PATH}/authenticationMethodConfigurations"
TAP_CONFIG_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
BASE_CONFIG_TYPE = "#microsoft.graph.authenticationMethodConfiguration"
DISPLAY_NAME = "Authentication Methods Policy"
DESCRIPTION = (
    "The tenant-wide policy that controls which authentication methods are allowed in the tenant "
    "and who may use them."
)


def tap_configuration_json(policy: TapPolicy) -> dict[str, Any]:
    """The TAP configuration with Graph's names; shared by the API and `policy show --json`."""
    return {
        "@odata.type": TAP_CONFIG_TYPE,
        "id": TAP,
        "state": policy.state.value,
        "defaultLifetimeInMinutes": policy.default_lifetime,
        "defaultLength": policy.default_length,
        "minimumLifetimeInMinutes": policy.minimum_lifetime,
        "maximumLifetimeInMinutes": policy.maximum_lifetime,
        "isUsableOnce": policy.is_usable_once,
        "includeTargets": [
            {"targetType": t.target_type, "id": t.id, "isRegistrationRequired": t.is_registration_required}
            for t in policy.include_targets
        ],
        "excludeTargets": [{"targetType": t.target_type, "id": t.id} for t in policy.exclude_targets],
    }


# --- request bodies --------------------------------------------------------------------------


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_annotations(cls, data: Any) -> Any:
        # SDKs may annotate nested objects too (`@odata.type`); only plain properties count.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not k.startswith("@odata.")}
        return data


class IncludeTargetIn(_Target):
    targetType: Literal["group", "user"]
    id: StrictStr
    isRegistrationRequired: StrictBool = False


class ExcludeTargetIn(_Target):
    targetType: Literal["group", "user"]
    id: StrictStr


class TapConfigurationPatch(BaseModel):
    """Every property is optional: what a PATCH omits keeps its value."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr | None = None
    state: Literal["enabled", "disabled"] | None = None
    defaultLifetimeInMinutes: StrictInt | None = None
    defaultLength: StrictInt | None = None
    minimumLifetimeInMinutes: StrictInt | None = None
    maximumLifetimeInMinutes: StrictInt | None = None
    isUsableOnce: StrictBool | None = None
    includeTargets: list[IncludeTargetIn] | None = None
    excludeTargets: list[ExcludeTargetIn] | None = None

    def changes(self) -> TapChanges:
        for name in sorted(self.model_fields_set):
            if getattr(self, name) is None:
                raise GraphError(400, "badRequest", f"Invalid value for property '{name}': must not be null.")
        if self.id is not None and self.id.casefold() != TAP.casefold():
            raise GraphError(
                400, "badRequest", f"The id '{self.id}' does not match this configuration ({TAP})."
            )
        include = exclude = None
        if self.includeTargets is not None:
            include = tuple(Target(t.targetType, t.id, t.isRegistrationRequired) for t in self.includeTargets)
        if self.excludeTargets is not None:
            exclude = tuple(Target(t.targetType, t.id) for t in self.excludeTargets)
        return TapChanges(
            state=PolicyState(self.state) if self.state is not None else None,
            default_lifetime=self.defaultLifetimeInMinutes,
            default_length=self.defaultLength,
            minimum_lifetime=self.minimumLifetimeInMinutes,
            maximum_lifetime=self.maximumLifetimeInMinutes,
            is_usable_once=self.isUsableOnce,
            include_targets=include,
            exclude_targets=exclude,
        )


# --- routes ----------------------------------------------------------------------------------


@router.get(POLICY_PATH)
async def get_methods_policy(request: Request, who: Caller) -> dict[str, Any]:
    policy = await in_unit(request, lambda s, e: PolicyService(s, e, who).methods_policy(), readonly=True)
    return {
        "@odata.context": context_url(request, "authenticationMethodsPolicy"),
        "id": "authenticationMethodsPolicy",
        "displayName": DISPLAY_NAME,
        "description": DESCRIPTION,
        "lastModifiedDateTime": iso_z(policy.last_modified),
        "policyVersion": str(policy.version),
        "authenticationMethodConfigurations": [tap_configuration_json(policy.tap)],
    }


@router.get(CONFIGS_PATH)
async def list_configurations(request: Request, who: Caller) -> dict[str, Any]:
    tap = await in_unit(request, lambda s, e: PolicyService(s, e, who).tap_policy(), readonly=True)
    return {
        "@odata.context": context_url(
            request, "policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
        ),
        "value": [tap_configuration_json(tap)],
    }


@router.get(CONFIGS_PATH + "/{config_id}")
async def get_configuration(request: Request, config_id: str, who: Caller) -> dict[str, Any]:
    tap = await in_unit(request, lambda s, e: PolicyService(s, e, who).tap_policy(config_id), readonly=True)
    return {
        "@odata.context": context_url(
            request, "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity"
        ),
        **tap_configuration_json(tap),
    }


@router.patch(CONFIGS_PATH + "/{config_id}", status_code=204, openapi_extra=body(TapConfigurationPatch))
async def patch_configuration(request: Request, config_id: str, who: Caller) -> Response:
    # Who may, and which configuration, are settled before the body is read.
    require_may_change(who)
    configuration_id(config_id)
    body = await parse(request, TapConfigurationPatch, accepted_types=(TAP_CONFIG_TYPE, BASE_CONFIG_TYPE))
    changes = body.changes()
    await in_unit(request, lambda s, e: PolicyService(s, e, who).update_tap(changes, config_id))
    return Response(status_code=204)


@router.delete(CONFIGS_PATH + "/{config_id}", status_code=204)
async def reset_configuration(request: Request, config_id: str, who: Caller) -> Response:
    await in_unit(request, lambda s, e: PolicyService(s, e, who).reset_tap(config_id))
    return Response(status_code=204)
