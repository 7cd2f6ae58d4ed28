"""What the admin portal (web/admin/) reads and who it acts as.

The portal is one more client of the same services as Graph and the CLI: it acts as the signed-in
administrator, a delegated Principal holding their directory roles, with the delegated scopes Entra's admin
center holds. So the roles alone decide, and every rule (issuer tiers, nobody issuing for themselves, Global
Reader reading only) is the services' own, enforced there; this module only says what a page may offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from passbridge.directory import queries as directory_store
from passbridge.directory.rules import ADMIN_ROLES, Role
from passbridge.directory.service import GROUP_WRITE_ROLES, DirectoryService
from passbridge.domain.errors import PermissionDenied
from passbridge.methods.access import tier_refusal
from passbridge.methods.reads import AppSummary, PasskeySummary
from passbridge.methods.registration import is_multi_factor
from passbridge.methods.service import MethodsService
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.burn import is_bound
from passbridge.passes.policy_rules import TapPolicy
from passbridge.passes.service import PassView
from passbridge.services.context import Env, Principal
from passbridge.signin.sessions import SessionView
from passbridge.store.models import Group, User
from passbridge.store.tx import Tx

# What Entra's admin center may do for the signed-in administrator; their roles limit it.
PORTAL_SCOPES = frozenset(
    {
        "User.ReadWrite.All",
        "Group.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "UserAuthMethod-TAP.ReadWrite.All",
        "Policy.Read.All",
        "Policy.ReadWrite.AuthenticationMethod",
        "AuditLog.Read.All",
    }
)
METHOD_MANAGERS = frozenset(
    {
        Role.GLOBAL_ADMINISTRATOR,
        Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        Role.AUTHENTICATION_ADMINISTRATOR,
    }
)
USER_MANAGERS = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.USER_ADMINISTRATOR})
ACTORS = (
    METHOD_MANAGERS | USER_MANAGERS | {Role.AUTHENTICATION_POLICY_ADMINISTRATOR, Role.GROUPS_ADMINISTRATOR}
)


class NotAnAdministrator(Exception):
    """The signed-in person holds no administrator role."""


class NeedsMultiFactor(Exception):
    """An administrator signed in with a single factor: the portal needs `mfa` strength."""


class SetUpOnlySession(NeedsMultiFactor):
    """An administrator signed in with an enrol or recover pass: that session sets up methods only."""


def roles_of(tx: Tx, user_id: str) -> frozenset[Role]:
    return frozenset(
        Role(r) for r in directory_store.role_ids_of(tx, user_id) if r in Role._value2member_map_
    )


def is_administrator(tx: Tx, user_id: str) -> bool:
    """Whether My apps and the top bar offer the admin portal to this user."""
    return bool(roles_of(tx, user_id) & ADMIN_ROLES)


def administrator(tx: Tx, view: SessionView, ip_address: str | None) -> Principal:
    """The signed-in administrator as the services see them. Raises NotAnAdministrator, or
    NeedsMultiFactor for a session that proved one factor (the portal asks for `mfa`, as Entra's does)."""
    roles = roles_of(tx, view.user_id) & ADMIN_ROLES
    if not roles:
        raise NotAnAdministrator()
    if not is_multi_factor(view.amr):
        raise NeedsMultiFactor()
    if is_bound(view):
        raise SetUpOnlySession()
    return Principal(
        kind="user",
        id=view.user_id,
        display_name=view.display_name,
        user_principal_name=view.user_principal_name,
        scopes=PORTAL_SCOPES,
        roles=roles,
        amr=view.amr,
        auth_time=view.auth_time,
        ip_address=ip_address,
    )


def reads_only(principal: Principal) -> bool:
    """A Global Reader (alone) sees everything and is offered no action."""
    return not principal.roles & ACTORS


@dataclass(frozen=True)
class UserOverview:
    """A user's page: the person, where they belong, their methods, and what the viewer may do."""

    user: User
    groups: list[Group]
    roles: list[Role]
    passes: list[PassView]
    passkeys: list[PasskeySummary]
    apps: list[AppSummary]
    # None when the viewer may manage this user's methods; else why not, in words for the page.
    methods_refusal: str | None
    methods_hidden: bool  # the viewer's roles do not let them read this user's methods
    may_manage_user: bool
    is_self: bool
    may_manage_groups: bool = False
    other_groups: tuple[Group, ...] = ()  # groups they are not in, to add them to
    may_manage_roles: bool = False
    other_roles: tuple[Role, ...] = ()  # roles they do not hold, to assign
    manager: User | None = None


def user_overview(tx: Tx, env: Env, principal: Principal, user_ref: str) -> UserOverview:
    directory = DirectoryService(tx, env, principal)
    user = directory.get_user(user_ref)
    roles = directory.roles_of(user)
    try:
        methods = MethodsService(tx, env, principal).list(user.id)
    except PermissionDenied:
        # A User or Groups Administrator manages accounts, not their methods (Entra's rule, as on Graph).
        methods, methods_hidden = [], True
    else:
        methods_hidden = False
    is_self = principal.id == user.id
    member_of = directory.groups_of(user)
    if is_self:
        refusal: str | None = "Your own methods are managed from Security info, not here."
    elif not principal.roles & METHOD_MANAGERS:
        refusal = "Your role lets you read this user's methods, not change them."
    else:
        refusal = tier_refusal(principal.roles, lambda: [r.value for r in roles])
    return UserOverview(
        user=user,
        groups=member_of,
        roles=roles,
        passes=[m for m in methods if isinstance(m, PassView)],
        passkeys=[m for m in methods if isinstance(m, PasskeySummary)],
        apps=[m for m in methods if isinstance(m, AppSummary)],
        methods_refusal=refusal,
        methods_hidden=methods_hidden,
        may_manage_user=bool(principal.roles & USER_MANAGERS) and not is_self,
        is_self=is_self,
        may_manage_groups=bool(principal.roles & GROUP_WRITE_ROLES),
        other_groups=tuple(g for g in directory.list_groups() if g.id not in {m.id for m in member_of}),
        may_manage_roles=Role.GLOBAL_ADMINISTRATOR in principal.roles,
        other_roles=tuple(r for r in Role if r not in roles),
        manager=directory.get_manager(user.id),
    )


@dataclass(frozen=True)
class PassBounds:
    """The TAP policy as the issue form explains it."""

    policy: TapPolicy
    last_modified: datetime | None


def pass_bounds(tx: Tx) -> PassBounds:
    policy, last_modified = policy_store.load(tx)
    return PassBounds(policy, last_modified)
