"""Graph-compatible routes: the authentication methods policy and its method configurations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, model_validator

from passbridge.clock import iso_z
from passbridge.graph.auth import caller
from passbridge.graph.body import parse
from passbridge.graph.common import in_unit
from passbridge.graph.errors import GraphError
from passbridge.graph.odata import context_url
from passbridge.graph.openapi import body
from passbridge.methods.passkey_profiles import (
    DEFAULT_PROFILE_ID,
    AttestationEnforcement,
    KeyRestrictions,
    PasskeyProfile,
    ProfileChange,
    RestrictionChange,
    parse_passkey_types,
    passkey_types_text,
)
from passbridge.methods.policy_rules import FIDO2, Fido2Policy, MethodPolicy
from passbridge.passes.policy import (
    CONFIGURATION_IDS,
    TAP,
    Configuration,
    KeyRestrictionChanges,
    MethodChanges,
    PolicyService,
    TapChanges,
    configuration_id,
    require_may_change,
)
from passbridge.passes.policy_rules import PolicyState, TapPolicy, Target
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]

POLICY_PATH = "/policies/authenticationMethodsPolicy"
CONFIGS_PATH = f"{POLICY_PATH}/authenticationMethodConfigurations"
TAP_CONFIG_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
FIDO2_CONFIG_TYPE = "#microsoft.graph.fido2AuthenticationMethodConfiguration"
OATH_CONFIG_TYPE = "#microsoft.graph.softwareOathAuthenticationMethodConfiguration"
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
        # A Passbridge extension (docs/graph-compat.md): Graph's SDKs keep it in additionalData.
        "includeSymbols": policy.include_symbols,
        "requireReason": policy.require_reason,
        # Passbridge extensions (docs/purpose-bound-passes.md).
        "enforcedPurpose": policy.enforced_purpose,
        "revokeMultiUseAfterPasskey": policy.revoke_multi_use_after_passkey,
        "includeTargets": [
            {"targetType": t.target_type, "id": t.id, "isRegistrationRequired": t.is_registration_required}
            for t in policy.include_targets
        ],
        "excludeTargets": [{"targetType": t.target_type, "id": t.id} for t in policy.exclude_targets],
    }


def method_configuration_json(config_id: str, policy: MethodPolicy) -> dict[str, Any]:
    """The Fido2 or SoftwareOath configuration with Graph's names."""
    body: dict[str, Any] = {
        "@odata.type": FIDO2_CONFIG_TYPE if config_id == FIDO2 else OATH_CONFIG_TYPE,
        "id": config_id,
        "state": policy.state.value,
        "includeTargets": [
            {"targetType": t.target_type, "id": t.id, "isRegistrationRequired": t.is_registration_required}
            for t in policy.include_targets
        ],
        "excludeTargets": [{"targetType": t.target_type, "id": t.id} for t in policy.exclude_targets],
    }
    if isinstance(policy, Fido2Policy):
        body["isSelfServiceRegistrationAllowed"] = policy.is_self_service_registration_allowed
        # Deprecated in Graph in favour of passkeyProfiles: the default profile's values.
        body["isAttestationEnforced"] = policy.is_attestation_enforced
        body["keyRestrictions"] = _restrictions_json(policy.key_restrictions)
        body["defaultPasskeyProfile"] = DEFAULT_PROFILE_ID
        body["passkeyProfiles"] = [passkey_profile_json(p) for p in policy.profiles]
        assigned = {a.target_id: a.profile_ids for a in policy.assignments}
        for target in body["includeTargets"]:
            target["allowedPasskeyProfiles"] = list(assigned.get(target["id"], (DEFAULT_PROFILE_ID,)))
        # A Passbridge extension (docs/graph-compat.md): roots every profile trusts.
        body["attestationTrustRoots"] = list(policy.attestation_trust_roots)
    return body


def _restrictions_json(restrictions: KeyRestrictions) -> dict[str, Any]:
    return {
        "isEnforced": restrictions.is_enforced,
        "enforcementType": restrictions.enforcement_type,
        "aaGuids": list(restrictions.aa_guids),
    }


def passkey_profile_json(profile: PasskeyProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "passkeyTypes": passkey_types_text(profile.passkey_types),
        "attestationEnforcement": profile.attestation.value,
        "keyRestrictions": _restrictions_json(profile.key_restrictions),
        # A Passbridge extension (docs/graph-compat.md): the PEM roots this profile trusts.
        "attestationTrustRoots": list(profile.trust_roots),
    }


def configuration_json(config_id: str, policy: Configuration) -> dict[str, Any]:
    if isinstance(policy, TapPolicy):
        return tap_configuration_json(policy)
    return method_configuration_json(config_id, policy)


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
    includeSymbols: StrictBool | None = None
    requireReason: StrictBool | None = None
    enforcedPurpose: StrictStr | None = None  # null lifts the binding
    revokeMultiUseAfterPasskey: StrictBool | None = None
    includeTargets: list[IncludeTargetIn] | None = None
    excludeTargets: list[ExcludeTargetIn] | None = None

    def changes(self) -> TapChanges:
        for name in sorted(self.model_fields_set - {"enforcedPurpose"}):
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
            include_symbols=self.includeSymbols,
            require_reason=self.requireReason,
            enforced_purpose=(
                (self.enforcedPurpose or "") if "enforcedPurpose" in self.model_fields_set else None
            ),
            revoke_multi_use_after_passkey=self.revokeMultiUseAfterPasskey,
            include_targets=include,
            exclude_targets=exclude,
        )


def _refuse_nulls(body: BaseModel) -> None:
    for name in sorted(body.model_fields_set):
        if getattr(body, name) is None:
            raise GraphError(400, "badRequest", f"Invalid value for property '{name}': must not be null.")


def _targets(
    include: list[IncludeTargetIn] | None, exclude: list[ExcludeTargetIn] | None
) -> tuple[tuple[Target, ...] | None, tuple[Target, ...] | None]:
    included = excluded = None
    if include is not None:
        included = tuple(Target(t.targetType, t.id, t.isRegistrationRequired) for t in include)
    if exclude is not None:
        excluded = tuple(Target(t.targetType, t.id) for t in exclude)
    return included, excluded


class KeyRestrictionsIn(_Target):
    """Graph's fido2KeyRestrictions; what a PATCH omits keeps its value."""

    isEnforced: StrictBool | None = None
    enforcementType: Literal["allow", "block"] | None = None
    aaGuids: list[StrictStr] | None = None


class OathConfigurationPatch(BaseModel):
    """A PATCH of the SoftwareOath configuration: every property optional."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr | None = None
    state: Literal["enabled", "disabled"] | None = None
    includeTargets: list[IncludeTargetIn] | None = None
    excludeTargets: list[ExcludeTargetIn] | None = None

    def changes(self, config_id: str) -> MethodChanges:
        _refuse_nulls(self)
        if self.id is not None and self.id.casefold() != config_id.casefold():
            raise GraphError(
                400, "badRequest", f"The id '{self.id}' does not match this configuration ({config_id})."
            )
        include, exclude = _targets(self.includeTargets, self.excludeTargets)
        return MethodChanges(
            state=PolicyState(self.state) if self.state is not None else None,
            include_targets=include,
            exclude_targets=exclude,
        )


class PasskeyTargetIn(IncludeTargetIn):
    """Graph's passkeyAuthenticationMethodTarget: an include target with the profiles it is allowed."""

    allowedPasskeyProfiles: list[StrictStr] | None = None


class PasskeyProfileIn(_Target):
    """Graph's passkeyProfile in a PATCH: matched by id; what it omits keeps its value."""

    id: StrictStr | None = None
    name: StrictStr | None = None
    # Graph writes the flags as one string ("deviceBound,synced"); a list is read too.
    passkeyTypes: StrictStr | list[StrictStr] | None = None
    attestationEnforcement: Literal["disabled", "registrationOnly"] | None = None
    keyRestrictions: KeyRestrictionsIn | None = None
    attestationTrustRoots: list[StrictStr] | None = None

    def change(self) -> ProfileChange:
        _refuse_nulls(self)
        restrictions = None
        if self.keyRestrictions is not None:
            given = self.keyRestrictions
            _refuse_nulls(given)
            aa_guids = tuple(given.aaGuids) if given.aaGuids is not None else None
            restrictions = RestrictionChange(given.isEnforced, given.enforcementType, aa_guids)
        return ProfileChange(
            id=self.id,
            name=self.name,
            passkey_types=parse_passkey_types(self.passkeyTypes) if self.passkeyTypes is not None else None,
            attestation=(
                AttestationEnforcement(self.attestationEnforcement) if self.attestationEnforcement else None
            ),
            key_restrictions=restrictions,
            trust_roots=tuple(self.attestationTrustRoots) if self.attestationTrustRoots is not None else None,
        )


class Fido2ConfigurationPatch(OathConfigurationPatch):
    """A PATCH of the Fido2 configuration (passkeys)."""

    isSelfServiceRegistrationAllowed: StrictBool | None = None
    isAttestationEnforced: StrictBool | None = None
    keyRestrictions: KeyRestrictionsIn | None = None
    includeTargets: list[PasskeyTargetIn] | None = None  # type: ignore[assignment]
    defaultPasskeyProfile: StrictStr | None = None
    passkeyProfiles: list[PasskeyProfileIn] | None = None
    attestationTrustRoots: list[StrictStr] | None = None

    def changes(self, config_id: str) -> MethodChanges:
        common = super().changes(config_id)
        if (
            self.defaultPasskeyProfile is not None
            and self.defaultPasskeyProfile.lower() != DEFAULT_PROFILE_ID
        ):
            raise GraphError(
                400,
                "badRequest",
                f"defaultPasskeyProfile is always '{DEFAULT_PROFILE_ID}'; it cannot change.",
            )
        profiles = (
            tuple(p.change() for p in self.passkeyProfiles) if self.passkeyProfiles is not None else None
        )
        allowed = None
        if self.includeTargets is not None:
            allowed = tuple(
                (t.id, tuple(t.allowedPasskeyProfiles) if t.allowedPasskeyProfiles is not None else None)
                for t in self.includeTargets
            )
        roots = tuple(self.attestationTrustRoots) if self.attestationTrustRoots is not None else None
        restrictions = None
        if self.keyRestrictions is not None:
            given = self.keyRestrictions
            _refuse_nulls(given)
            restrictions = KeyRestrictionChanges(
                given.isEnforced,
                given.enforcementType,
                tuple(given.aaGuids) if given.aaGuids is not None else None,
            )
        return MethodChanges(
            state=common.state,
            include_targets=common.include_targets,
            exclude_targets=common.exclude_targets,
            is_self_service_registration_allowed=self.isSelfServiceRegistrationAllowed,
            is_attestation_enforced=self.isAttestationEnforced,
            key_restrictions=restrictions,
            passkey_profiles=profiles,
            allowed_profiles=allowed,
            attestation_trust_roots=roots,
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
        "authenticationMethodConfigurations": _all_configurations(policy),
    }


def _all_configurations(policy: Any) -> list[dict[str, Any]]:
    return [
        tap_configuration_json(policy.tap),
        method_configuration_json(FIDO2, policy.fido2),
        method_configuration_json("SoftwareOath", policy.software_oath),
    ]


@router.get(CONFIGS_PATH)
async def list_configurations(request: Request, who: Caller) -> dict[str, Any]:
    policy = await in_unit(request, lambda s, e: PolicyService(s, e, who).methods_policy(), readonly=True)
    return {
        "@odata.context": context_url(
            request, "policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
        ),
        "value": _all_configurations(policy),
    }


@router.get(CONFIGS_PATH + "/{config_id}")
async def get_configuration(request: Request, config_id: str, who: Caller) -> dict[str, Any]:
    canonical, found = await in_unit(
        request, lambda s, e: PolicyService(s, e, who).configuration(config_id), readonly=True
    )
    return {
        "@odata.context": context_url(
            request, "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity"
        ),
        **configuration_json(canonical, found),
    }


# The OpenAPI document shows the TAP's body; Fido2's and SoftwareOath's are listed as schemas too.
_PATCH_BODIES = {"requestBody": body(TapConfigurationPatch)["requestBody"]}
body(Fido2ConfigurationPatch)
body(OathConfigurationPatch)


@router.patch(CONFIGS_PATH + "/{config_id}", status_code=204, openapi_extra=_PATCH_BODIES)
async def patch_configuration(request: Request, config_id: str, who: Caller) -> Response:
    # Who may, and which configuration, are settled before the body is read.
    require_may_change(who)
    canonical = configuration_id(config_id)
    if canonical == TAP:
        tap_body = await parse(
            request, TapConfigurationPatch, accepted_types=(TAP_CONFIG_TYPE, BASE_CONFIG_TYPE)
        )
        tap_changes = tap_body.changes()
        await in_unit(request, lambda s, e: PolicyService(s, e, who).update_tap(tap_changes, config_id))
        return Response(status_code=204)
    model: type[OathConfigurationPatch] = (
        Fido2ConfigurationPatch if canonical == FIDO2 else OathConfigurationPatch
    )
    odata_type = FIDO2_CONFIG_TYPE if canonical == FIDO2 else OATH_CONFIG_TYPE
    method_body = await parse(request, model, accepted_types=(odata_type, BASE_CONFIG_TYPE))
    changes = method_body.changes(canonical)
    await in_unit(request, lambda s, e: PolicyService(s, e, who).update_method(canonical, changes))
    return Response(status_code=204)


@router.delete(CONFIGS_PATH + "/{config_id}", status_code=204)
async def reset_configuration(request: Request, config_id: str, who: Caller) -> Response:
    def reset(tx: Tx, env: Env) -> None:
        service = PolicyService(tx, env, who)
        # An unknown id goes the TAP's way: permission (403) first, then 404.
        if CONFIGURATION_IDS.get(config_id.casefold(), TAP) == TAP:
            service.reset_tap(config_id)
        else:
            service.reset_method(config_id)

    await in_unit(request, reset)
    return Response(status_code=204)
