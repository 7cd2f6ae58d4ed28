"""Who may read or manage whose authentication methods (every method kind shares these rules).

Graph distinguishes acting on oneself (delegated scopes without `.All`) from acting on another
user (`.All` scopes, and for delegated callers a directory role). Application callers always act
on other users; operators (the CLI on the host) may do anything.

A user changing their OWN methods through Graph meets the rule the security-info pages apply
(methods/registration.py): their token must come from a multi-factor sign-in within REAUTH_WINDOW.
Without it a code alone (one factor) could strip the owner's passkeys or pass through /me, leaving them
nothing stronger than the code an attacker holds. Administrators acting on others are unaffected: their
right comes from their roles, not from how recently they proved who they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar, overload

from passbridge.directory import access
from passbridge.directory import queries as directory_store
from passbridge.directory.rules import ADMIN_ROLES, Role
from passbridge.directory.service import DirectoryService, user_not_found
from passbridge.domain.errors import PermissionDenied
from passbridge.methods.registration import REAUTH_WINDOW, is_multi_factor
from passbridge.passes import queries as tap_store
from passbridge.passes.queries import UserMethods
from passbridge.services.context import Env, Principal
from passbridge.store.models import User
from passbridge.store.tx import Tx

M = TypeVar("M", bound=UserMethods)

# Delegated roles that may read another user's methods (Graph: Global Reader, Authentication
# Administrator, Privileged Authentication Administrator; Global Administrator holds every right).
READER_ROLES = frozenset(
    {
        Role.GLOBAL_READER,
        Role.AUTHENTICATION_ADMINISTRATOR,
        Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        Role.GLOBAL_ADMINISTRATOR,
    }
)


@dataclass(frozen=True)
class Scopes:
    """The permissions an operation accepts: on other users, and (delegated only) on oneself."""

    others: tuple[str, ...]
    own: tuple[str, ...]


def _first_gate(principal: Principal, scopes: Scopes) -> None:
    """Refuse a caller holding no fitting permission at all, before revealing whether the user exists."""
    if principal.kind == "user":
        access.require_app_permission(principal, *scopes.own, *scopes.others)
    else:
        access.require_app_permission(principal, *scopes.others)


def check_reads_everyone(principal: Principal, scopes: Scopes) -> None:
    """Whether the caller may read every user's methods at once (the admin portal's inventory): what
    reading any other user's takes."""
    access.require_app_permission(principal, *scopes.others)
    if principal.kind == "user" and not (principal.roles & READER_ROLES):
        raise PermissionDenied(
            "Reading other users' authentication methods needs the Global Reader, Authentication "
            "Administrator or Privileged Authentication Administrator role."
        )


def _check_reader(principal: Principal, user_id: str, scopes: Scopes) -> None:
    """Once the user is known to exist: whether the caller may read their methods."""
    if principal.kind == "user" and principal.id == user_id:
        access.require_app_permission(principal, *scopes.own)
        return
    access.require_app_permission(principal, *scopes.others)
    if principal.kind == "user" and not (principal.roles & READER_ROLES):
        raise PermissionDenied(
            "Reading another user's authentication methods needs the Global Reader, Authentication "
            "Administrator or Privileged Authentication Administrator role."
        )


@overload
def readable_methods(tx: Tx, principal: Principal, user_ref_text: str, scopes: Scopes) -> UserMethods: ...


@overload
def readable_methods(
    tx: Tx,
    principal: Principal,
    user_ref_text: str,
    scopes: Scopes,
    load: Callable[[Tx, str], M | None],
) -> M: ...


def readable_methods(
    tx: Tx,
    principal: Principal,
    user_ref_text: str,
    scopes: Scopes,
    load: Callable[[Tx, str], UserMethods | None] = tap_store.user_methods,
) -> UserMethods:
    """The user named by `user_ref_text` with their methods, once the caller may read them. One select
    (`load`: passes/queries.py for the pass alone, methods/reads.py for every kind); the checks come in
    the same order as for every other user path."""
    _first_gate(principal, scopes)
    found = load(tx, user_ref_text)
    if found is None:
        raise user_not_found(user_ref_text)
    _check_reader(principal, found.user_id, scopes)
    return found


@dataclass
class MethodAccess:
    tx: Tx
    env: Env
    principal: Principal

    def is_self(self, user: User) -> bool:
        return self.principal.kind == "user" and self.principal.id == user.id

    def manager(self, user_ref_text: str, scopes: Scopes, *, allow_self: bool) -> User:
        """The user named by `user_ref_text`, once the caller may change their methods."""
        _first_gate(self.principal, scopes)
        user = DirectoryService(self.tx, self.env, self.principal).find_user(user_ref_text)
        if self.is_self(user):
            if not allow_self:
                raise PermissionDenied("You cannot create a Temporary Access Pass for yourself.")
            access.require_app_permission(self.principal, *scopes.own)
            self._check_own_sign_in()
            return user
        access.require_app_permission(self.principal, *scopes.others)
        self._check_tier(user)
        return user

    def _check_own_sign_in(self) -> None:
        """Refuse a change to one's own methods unless the token's sign-in proved several factors
        recently (methods/registration.py's rule for the pages, read from the token's amr and auth_time)."""
        if not is_multi_factor(self.principal.amr):
            raise PermissionDenied(
                "This access token comes from a single-factor sign-in (such as an authenticator-app code "
                "alone). Changing your own authentication methods needs a multi-factor sign-in: sign in "
                "again with a passkey or a Temporary Access Pass and use the new token."
            )
        signed_in = self.principal.auth_time
        if signed_in is None or self.env.clock.now() - signed_in > REAUTH_WINDOW:
            minutes = int(REAUTH_WINDOW.total_seconds() // 60)
            raise PermissionDenied(
                f"Changing your own authentication methods needs a sign-in within the last {minutes} "
                "minutes: sign in again and use the new token."
            )

    def _check_tier(self, user: User) -> None:
        """Issuer tiers, as Entra has them, for delegated (user) callers acting on someone else."""
        if self.principal.kind != "user":
            return
        refusal = tier_refusal(self.principal.roles, lambda: directory_store.role_ids_of(self.tx, user.id))
        if refusal is not None:
            raise PermissionDenied(refusal)


def tier_refusal(roles: frozenset[Role], target_role_ids: Callable[[], Iterable[str]]) -> str | None:
    """Why a user holding `roles` may not manage the methods of a user holding `target_role_ids` (read
    only when it matters), or None when they may: Entra's issuer tiers. The admin portal asks the same
    question to decide which actions a page offers."""
    if Role.GLOBAL_ADMINISTRATOR in roles or Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR in roles:
        return None
    if Role.AUTHENTICATION_ADMINISTRATOR in roles:
        if set(target_role_ids()) & {r.value for r in ADMIN_ROLES}:
            return (
                "An Authentication Administrator cannot manage the authentication methods of users "
                "who hold an administrator role; a Privileged Authentication Administrator can."
            )
        return None
    return (
        "Managing another user's authentication methods needs the Authentication Administrator "
        "role or higher."
    )
