"""What /scim/v2 serves, described once: the schemas, resource types and capabilities it publishes.

The core User, Group and enterprise extension schemas are scim2-models' own, trimmed to the attributes
Passbridge stores, so a client reading `/Schemas` learns exactly what round-trips (RFC 7643 §7: a service
provider publishes the attributes it supports). The models every request is parsed with are built from those
same published schemas (`ScimProvider.from_discovery`), so what is published and what is accepted cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Extension,
    Filter,
    Group,
    Mutability,
    Patch,
    Required,
    ResourceType,
    Schema,
    SchemaExtension,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PASSBRIDGE_SCHEMA = "urn:ietf:params:scim:schemas:extension:passbridge:2.0:User"

MAX_OPERATIONS = 50  # Entra's bulkUpload takes at most 50 operations per request, as does /Bulk here.
MAX_PAYLOAD = 1_048_576
MAX_RESULTS = 200


class PassbridgeUser(Extension):
    """Our extension for what SCIM's schemas lack and an HR system sends: the first day of work (Graph's
    `employeeHireDate`), which the joiner workflow issues a pass for."""

    __schema__ = URN(PASSBRIDGE_SCHEMA)

    employee_hire_date: datetime | None = None
    """The date and time the person starts work (Graph's employeeHireDate)."""


# The attributes of each schema Passbridge stores, and for multi-valued complex attributes the
# sub-attributes and the `type` values each one keeps apart.
_USER_ATTRIBUTES = {
    "userName": None,
    "displayName": None,
    "title": None,
    "userType": None,
    "active": None,
    "emails": ("value", "type"),
    "phoneNumbers": ("value", "type"),
    "groups": ("value", "$ref", "display", "type"),
}
_TYPES = {"emails": ["work", "other"], "phoneNumbers": ["mobile"], "members": ["User"]}
_ENTERPRISE_ATTRIBUTES = {
    "employeeNumber": None,
    "organization": None,
    "department": None,
    "manager": ("value", "$ref"),
}
_GROUP_ATTRIBUTES = {"displayName": None, "members": ("value", "$ref", "type")}


def _trimmed(schema: Schema, keep: Mapping[str, tuple[str, ...] | None]) -> Schema:
    attributes = []
    for attribute in schema.attributes or []:
        if attribute.name is None or attribute.name not in keep:
            continue
        sub_names = keep[attribute.name]
        if sub_names is not None and attribute.sub_attributes:
            attribute.sub_attributes = [s for s in attribute.sub_attributes if s.name in sub_names]
        if schema.id == USER_SCHEMA and attribute.name in ("displayName", "active"):
            # Every Passbridge user has both (Graph's displayName and accountEnabled). A creation or
            # replacement that leaves them out gets the defaults scim/service.py names; none removes them.
            attribute.required = Required.true
        for sub in attribute.sub_attributes or []:
            if sub.name == "$ref":
                # The id in `value` says who is meant; Entra sends a manager or member without $ref.
                sub.required = Required.false
            if sub.name == "display" and attribute.name in ("members", "groups"):
                # The member's or group's display name, as stored: shown, never written through here.
                sub.mutability = Mutability.read_only
            if sub.name == "type" and attribute.name in _TYPES:
                sub.canonical_values = _TYPES[attribute.name]
        attributes.append(attribute)
    schema.attributes = attributes
    return schema


@cache
def published_schemas() -> tuple[Schema, ...]:
    """Every schema /Schemas lists: the resources' (trimmed) and the three discovery schemas."""
    hire = PassbridgeUser.to_schema()
    hire.name = "Passbridge user"
    hire.description = (
        "Passbridge's extension: employeeHireDate, the first day of work (Graph's employeeHireDate), "
        "from which the joiner workflow issues a Temporary Access Pass."
    )
    return (
        _trimmed(User.to_schema(), _USER_ATTRIBUTES),
        _trimmed(Group.to_schema(), _GROUP_ATTRIBUTES),
        _trimmed(EnterpriseUser.to_schema(), _ENTERPRISE_ATTRIBUTES),
        hire,
        ServiceProviderConfig.to_schema(),
        ResourceType.to_schema(),
        Schema.to_schema(),
    )


@cache
def resource_types() -> tuple[ResourceType, ...]:
    return (
        ResourceType(
            id="User",
            name="User",
            description="A person who signs in",
            endpoint="/Users",
            schema_=URN(USER_SCHEMA),
            schema_extensions=[
                SchemaExtension(schema_=URN(ENTERPRISE_SCHEMA), required=False),
                SchemaExtension(schema_=URN(PASSBRIDGE_SCHEMA), required=False),
            ],
        ),
        ResourceType(
            id="Group",
            name="Group",
            description="A group of people",
            endpoint="/Groups",
            schema_=URN(GROUP_SCHEMA),
            schema_extensions=[],
        ),
    )


def service_provider_config(base_url: str) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=f"{base_url}/docs/provisioning",
        patch=Patch(supported=True),
        bulk=Bulk(supported=True, max_operations=MAX_OPERATIONS, max_payload_size=MAX_PAYLOAD),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description=(
                    "A provisioning token (passbridge provisioning token add NAME), or an access token of an "
                    "application granted User.ReadWrite.All and Group.ReadWrite.All."
                ),
                primary=True,
            )
        ],
    )


# What Entra's and Okta's provisioning send, and RFC 7644 leaves open or forbids: attributes we do not
# store (name, addresses...) are dropped rather than refused, a `remove` with a value removes that value,
# and a filtered path that matches nothing (emails[type eq "work"].value) creates the entry it describes.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


@cache
def provider() -> ScimProvider:
    """The models requests are parsed with, built from the schemas above."""
    return ScimProvider.from_discovery(published_schemas()[:4], resource_types(), policy=POLICY)


def user_model() -> Any:
    return provider().model_for("User")


def group_model() -> Any:
    return provider().model_for("Group")
