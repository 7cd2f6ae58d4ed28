"""What the directory's services share: the permissions and roles writes need, the audit entry, finding a
user, and the shape of a page. DirectoryService (service.py) is users, managers and roles on top of the
group methods (groups.py); both stand on DirectoryBase."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from passbridge.directory import access
from passbridge.directory import queries as store
from passbridge.directory.rules import (
    Role,
)
from passbridge.domain.errors import NotFound, PermissionDenied
from passbridge.logs import audit
from passbridge.logs.audit import TargetRef
from passbridge.services.context import Env, Principal
from passbridge.store.models import Group, User
from passbridge.store.tx import Tx

USER_READ = ("User.Read.All", "User.ReadWrite.All")
USER_WRITE = ("User.ReadWrite.All",)
GROUP_READ = ("Group.Read.All", "Group.ReadWrite.All")
GROUP_WRITE = ("Group.ReadWrite.All",)
# Delegated callers need a directory role as well as the scope, as in Entra: the scope says what the
# application may do for the user, the role what the user may do. Reads need no role (every member
# may read the directory).
USER_WRITE_ROLES = frozenset({Role.USER_ADMINISTRATOR, Role.GLOBAL_ADMINISTRATOR})
GROUP_WRITE_ROLES = frozenset({Role.GROUPS_ADMINISTRATOR, Role.USER_ADMINISTRATOR, Role.GLOBAL_ADMINISTRATOR})
# The roles whose holders a User Administrator may still change; anyone holding another role (a more
# privileged one) is for a Global Administrator only.
USER_ADMINISTRATOR_MAY_MANAGE = frozenset({Role.USER_ADMINISTRATOR, Role.GROUPS_ADMINISTRATOR})
# Delegated scopes that let a signed-in user read their own profile (Graph's /me).
SELF_READ = ("User.Read", "User.ReadWrite", "User.ReadBasic.All", *USER_READ)


class Unset:
    """Marks a property an update leaves alone (None is a value: it clears `mail`)."""


UNSET: Final = Unset()


T = TypeVar("T")


@dataclass(frozen=True)
class Found(Generic[T]):
    """One page of a filtered listing: `next_after` is where the next page starts (the sort key of this
    page's last item), None when no page follows."""

    items: list[T]
    next_after: tuple[str, str] | None

    @property
    def has_more(self) -> bool:
        return self.next_after is not None


def _users_page(rows: list[User], limit: int, order: store.UserOrder = "userPrincipalName") -> Found[User]:
    # One row more than asked says whether another page exists without counting.
    return Found(rows[:limit], store.user_key(rows[limit - 1], order) if len(rows) > limit else None)


def user_not_found(ref: str) -> NotFound:
    """Graph's answer for a user path naming no user (by id or userPrincipalName)."""
    return NotFound(
        f"Resource '{ref}' does not exist or one of its queried reference-property objects are not present.",
        kind="user",
    )


def user_ref(user: User) -> TargetRef:
    return TargetRef("User", user.id, user.display_name, user.user_principal_name)


def group_ref(group: Group) -> TargetRef:
    return TargetRef("Group", group.id, group.display_name)


@dataclass
class DirectoryBase:
    tx: Tx
    env: Env
    principal: Principal

    def _audit(self, activity: str, operation: str, targets: list[TargetRef], category: str) -> None:
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=self.principal,
            activity=activity,
            category=category,
            operation_type=operation,
            targets=targets,
        )

    def _require_role(self, roles: frozenset[Role], what: str) -> None:
        if self.principal.kind == "user" and not (self.principal.roles & roles):
            names = " or ".join(sorted(r.display_name for r in roles))
            raise PermissionDenied(
                f"Insufficient privileges to {what}: the signed-in user needs the {names} role."
            )

    def _write_users(self) -> None:
        access.require_app_permission(self.principal, *USER_WRITE)
        self._require_role(USER_WRITE_ROLES, "change users")

    def _write_groups(self) -> None:
        access.require_app_permission(self.principal, *GROUP_WRITE)
        self._require_role(GROUP_WRITE_ROLES, "change groups")

    def _may_change(self, user: User) -> None:
        """A delegated User Administrator may not change users holding more privileged roles."""
        if self.principal.kind != "user" or Role.GLOBAL_ADMINISTRATOR in self.principal.roles:
            return
        held = {Role(r) for r in store.role_ids_of(self.tx, user.id) if r in Role._value2member_map_}
        if held - USER_ADMINISTRATOR_MAY_MANAGE:
            raise PermissionDenied(
                "Insufficient privileges to change this user: they hold a privileged administrator role, "
                "which only a Global Administrator may change."
            )

    def find_user(self, ref: str) -> User:
        user = store.user_by_id_or_upn(self.tx, ref)
        if user is None:
            raise user_not_found(ref)
        return user
