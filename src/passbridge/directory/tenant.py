"""Initialising a store: the tenant, its first Global Administrator, and their bootstrap pass."""

from __future__ import annotations

from dataclasses import dataclass

from passbridge.directory import queries as directory_store
from passbridge.directory.rules import Role, check_display_name, normalise_upn
from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import AlreadyInitialised, NotInitialised
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.logs.audit import TargetRef
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy_rules import TapPolicy
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import IssuedPass, TapService
from passbridge.services.context import Env, Principal
from passbridge.store.models import Tenant, User
from passbridge.store.tx import Tx
from passbridge.tokens import keys


@dataclass(frozen=True)
class Initialised:
    tenant: Tenant
    admin: User
    bootstrap_pass: IssuedPass
    sign_in_url: str


def initialise(tx: Tx, env: Env, principal: Principal, *, admin_upn: str, tenant_name: str) -> Initialised:
    """Create the tenant; the caller's transaction makes it all-or-nothing."""
    if directory_store.tenant(tx) is not None:
        raise AlreadyInitialised("this store is already initialised; nothing was changed")
    upn = normalise_upn(admin_upn)
    now = env.clock.now()
    tenant = Tenant(
        id=new_guid(), display_name=check_display_name(tenant_name, what="tenant name"), created_at=now
    )
    tx.session.add(tenant)
    audit.record(
        tx,
        now=now,
        principal=principal,
        activity="Create company",
        category="DirectoryManagement",
        operation_type="Add",
        targets=[TargetRef("Other", tenant.id, tenant.display_name)],
    )
    policy_store.save(tx, TapPolicy(), now=now)
    keys.add_key(tx, env)
    directory = DirectoryService(tx, env, principal)
    admin = directory.add_user(upn, display_name="Administrator")
    directory.assign_role(Role.GLOBAL_ADMINISTRATOR.display_name, admin.id)
    # Nobody can sign in yet: the first administrator gets a one-time pass, the product's own story.
    issued = TapService(tx, env, principal).issue(admin.id, PassRequest(is_usable_once=True))
    return Initialised(tenant, admin, issued, f"{env.settings.base_url}/login")


def has_tenant(tx: Tx) -> bool:
    return directory_store.tenant(tx) is not None


def require_tenant(tx: Tx) -> Tenant:
    tenant = directory_store.tenant(tx)
    if tenant is None:
        raise NotInitialised("this store has no tenant yet; run 'passbridge init --admin UPN'")
    return tenant
