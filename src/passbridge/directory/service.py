"""Users, groups and directory roles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

from sqlalchemy.exc import IntegrityError

from passbridge.directory import access, hr
from passbridge.directory import queries as store
from passbridge.directory.queries import Condition
from passbridge.directory.roles import RoleService
from passbridge.directory.rules import (
    Role,
    check_description,
    check_display_name,
    check_manager,
    normalise_sign_in_name,
    normalise_upn,
    upn_key,
)
from passbridge.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.logs.audit import ModifiedProperty, TargetRef
from passbridge.services.context import Env, Principal
from passbridge.store.models import Group, GroupMember, User
from passbridge.store.tx import Tx

__all__ = ["UNSET", "Condition", "DirectoryService", "Found", "Unset", "group_ref", "user_ref"]

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
class DirectoryService:
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

    # --- users ------------------------------------------------------------------------------

    def add_user(
        self,
        upn: str,
        *,
        display_name: str | None = None,
        mail: str | None = None,
        account_enabled: bool = True,
        employee_id: str | None = None,
        employee_type: str | None = None,
        employee_hire_date: datetime | None = None,
        department: str | None = None,
        job_title: str | None = None,
        company_name: str | None = None,
        office_location: str | None = None,
        usage_location: str | None = None,
        mobile_phone: str | None = None,
        other_mails: Sequence[str] | None = None,
        external_id: str | None = None,
        bare_name: bool = False,
    ) -> User:
        """A new user; HR's properties (directory/hr.py) are listed in the audit entry when given.
        `bare_name`: the name may lack a domain (SCIM's userName; directory/rules.py)."""
        self._write_users()
        name = normalise_sign_in_name(upn, bare_allowed=bare_name)
        if store.user_by_upn(self.tx, name) is not None:
            raise Conflict(_duplicate_upn(name))
        now = self.env.clock.now()
        user = User(
            id=new_guid(),
            user_principal_name=name,
            upn_key=upn_key(name),
            display_name=check_display_name(display_name or name.split("@")[0]),
            mail=normalise_upn(mail) if mail else None,
            account_enabled=account_enabled,
            created_at=now,
            sessions_valid_from=now,
            other_mails=[],
        )
        given = {
            "employee_id": employee_id,
            "employee_type": employee_type,
            "employee_hire_date": employee_hire_date,
            "department": department,
            "job_title": job_title,
            "company_name": company_name,
            "office_location": office_location,
            "usage_location": usage_location,
            "mobile_phone": mobile_phone,
            "other_mails": other_mails,
            "external_id": external_id,
        }
        changed = hr.apply(user, given)
        self.tx.session.add(user)
        try:
            self.tx.session.flush()
        except IntegrityError:
            # Another transaction won the race for this name between our check and insert.
            raise Conflict(_duplicate_upn(name)) from None
        target = TargetRef(
            "User", user.id, user.display_name, user.user_principal_name, modified_properties=tuple(changed)
        )
        self._audit("Add user", "Add", [target], "UserManagement")
        return user

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

    def get_user(self, ref: str) -> User:
        access.require_app_permission(self.principal, *USER_READ)
        return self.find_user(ref)

    def me(self) -> User:
        """The signed-in user behind a delegated token."""
        if self.principal.kind != "user" or self.principal.id is None:
            raise InvalidInput("/me request is only valid with delegated authentication flow.")
        access.require_app_permission(self.principal, *SELF_READ)
        return self.find_user(self.principal.id)

    def list_users(self) -> list[User]:
        access.require_app_permission(self.principal, *USER_READ)
        return store.users(self.tx)

    def search_users(
        self,
        conditions: Sequence[Condition],
        *,
        after: store.UserKey | None,
        limit: int,
        order: store.UserOrder = "userPrincipalName",
        descending: bool = False,
    ) -> Found[User]:
        """A page of users in `order` (UPN by default), from the one after `after` (`store.user_key`
        of a page's last)."""
        access.require_app_permission(self.principal, *USER_READ)
        rows = store.find_users(
            self.tx, conditions, after=after, limit=limit + 1, order=order, descending=descending
        )
        return _users_page(rows, limit, order)

    def count_users(self, conditions: Sequence[Condition]) -> int:
        access.require_app_permission(self.principal, *USER_READ)
        return store.count_users(self.tx, conditions)

    def update_user(
        self,
        ref: str,
        *,
        display_name: str | Unset = UNSET,
        account_enabled: bool | Unset = UNSET,
        user_principal_name: str | Unset = UNSET,
        mail: str | Unset | None = UNSET,
        employee_id: str | Unset | None = UNSET,
        employee_type: str | Unset | None = UNSET,
        employee_hire_date: datetime | Unset | None = UNSET,
        department: str | Unset | None = UNSET,
        job_title: str | Unset | None = UNSET,
        company_name: str | Unset | None = UNSET,
        office_location: str | Unset | None = UNSET,
        usage_location: str | Unset | None = UNSET,
        mobile_phone: str | Unset | None = UNSET,
        other_mails: Sequence[str] | Unset | None = UNSET,
        external_id: str | Unset | None = UNSET,
        bare_name: bool = False,
    ) -> User:
        """Change the given properties (None clears one that may be empty); one "Update user" audit
        entry lists what changed. Disabling the account ends its sessions, tokens and pass at once."""
        self._write_users()
        user = self.find_user(ref)
        self._may_change(user)
        given: dict[str, Any] = {
            "employee_id": employee_id,
            "employee_type": employee_type,
            "employee_hire_date": employee_hire_date,
            "department": department,
            "job_title": job_title,
            "company_name": company_name,
            "office_location": office_location,
            "usage_location": usage_location,
            "mobile_phone": mobile_phone,
            "other_mails": other_mails,
            "external_id": external_id,
        }
        changed = hr.apply(user, {k: v for k, v in given.items() if not isinstance(v, Unset)})
        if not isinstance(display_name, Unset):
            name = check_display_name(display_name)
            if name != user.display_name:
                changed.append(ModifiedProperty("DisplayName", user.display_name, name))
                user.display_name = name
        if not isinstance(user_principal_name, Unset):
            upn = normalise_sign_in_name(user_principal_name, bare_allowed=bare_name)
            if upn != user.user_principal_name:
                other = store.user_by_upn(self.tx, upn)
                if other is not None and other.id != user.id:
                    raise Conflict(_duplicate_upn(upn))
                changed.append(ModifiedProperty("UserPrincipalName", user.user_principal_name, upn))
                user.user_principal_name, user.upn_key = upn, upn_key(upn)
        if not isinstance(mail, Unset):
            address = normalise_upn(mail) if mail is not None else None
            if address != user.mail:
                changed.append(ModifiedProperty("Mail", user.mail, address))
                user.mail = address
        if not isinstance(account_enabled, Unset) and account_enabled != user.account_enabled:
            changed.append(ModifiedProperty("AccountEnabled", user.account_enabled, account_enabled))
            user.account_enabled = account_enabled
            if not account_enabled:
                hr.end_access(self.tx, self.env, self.principal, user)
        if not changed:
            return user
        try:
            self.tx.session.flush()
        except IntegrityError:
            # Another transaction took this name between our check and the write.
            raise Conflict(_duplicate_upn(user.user_principal_name)) from None
        target = TargetRef(
            "User", user.id, user.display_name, user.user_principal_name, modified_properties=tuple(changed)
        )
        self._audit("Update user", "Update", [target], "UserManagement")
        return user

    def set_account_enabled(self, ref: str, enabled: bool) -> User:
        self._write_users()
        user = self.find_user(ref)
        self._may_change(user)
        if user.account_enabled != enabled:
            user.account_enabled = enabled
            if not enabled:
                hr.end_access(self.tx, self.env, self.principal, user)
            self._audit(
                "Enable account" if enabled else "Disable account",
                "Update",
                [user_ref(user)],
                "UserManagement",
            )
        return user

    def delete_user(self, ref: str) -> None:
        self._write_users()
        user = self.find_user(ref)
        self._may_change(user)
        self._audit("Delete user", "Delete", [user_ref(user)], "UserManagement")
        self.tx.session.delete(user)
        self.tx.session.flush()

    # --- the manager (Graph's manager and directReports) ------------------------------------

    def set_manager(self, ref: str, manager_ref: str | None) -> User:
        """Make `manager_ref` the user's manager, or (None) leave them without one. Neither the user nor
        anyone reporting to them may become their manager. Audited only when something changes."""
        self._write_users()
        user = self.find_user(ref)
        self._may_change(user)
        # Two changes checked at once could each pass and together close a cycle: on PostgreSQL the
        # tenant row serialises them (SQLite's write lock already does).
        store.lock_for_manager_change(self.tx)
        if manager_ref is None:
            manager = store.user_by_id(self.tx, user.manager_id) if user.manager_id else None
            if manager is not None:
                user.manager_id = None
                self.tx.session.flush()
                targets = [user_ref(user), user_ref(manager)]
                self._audit("Remove manager", "Unassign", targets, "UserManagement")
            return user
        manager = self.find_user(manager_ref)
        check_manager(user.id, manager.id, lambda user_id: store.manager_id_of(self.tx, user_id))
        if user.manager_id != manager.id:
            user.manager_id = manager.id
            self.tx.session.flush()
            self._audit("Set manager", "Assign", [user_ref(user), user_ref(manager)], "UserManagement")
        return user

    def get_manager(self, ref: str) -> User | None:
        access.require_app_permission(self.principal, *USER_READ)
        user = self.find_user(ref)
        return store.user_by_id(self.tx, user.manager_id) if user.manager_id else None

    def direct_reports(self, ref: str, *, after: store.UserKey | None, limit: int) -> Found[User]:
        """A page of the users whose manager this user is, in UPN order."""
        access.require_app_permission(self.principal, *USER_READ)
        user = self.find_user(ref)
        rows = store.find_users(self.tx, (), after=after, limit=limit + 1, manager_id=user.id)
        return _users_page(rows, limit)

    def groups_of(self, user: User) -> list[Group]:
        ids = set(store.group_ids_of(self.tx, user.id))
        return [g for g in store.groups(self.tx) if g.id in ids]

    def roles_of(self, user: User) -> list[Role]:
        return [Role(r) for r in store.role_ids_of(self.tx, user.id) if r in Role._value2member_map_]

    # --- groups -----------------------------------------------------------------------------

    def add_group(
        self, display_name: str, *, description: str | None = None, unique_name: bool = False
    ) -> Group:
        self._write_groups()
        name = check_display_name(display_name)
        if unique_name and store.groups_named(self.tx, name):
            raise Conflict(f"A group named '{name}' already exists.")
        group = Group(
            id=new_guid(),
            display_name=name,
            description=check_description(description),
            created_at=self.env.clock.now(),
        )
        self.tx.session.add(group)
        self._audit("Add group", "Add", [group_ref(group)], "GroupManagement")
        return group

    def find_group(self, ref: str) -> Group:
        """By id, or (for operators) by a display name that names exactly one group."""
        group = store.group_by_id(self.tx, ref)
        if group is not None:
            return group
        # Graph addresses groups by id only; names are a convenience of the operator's CLI.
        named = store.groups_named(self.tx, ref) if self.principal.is_operator else []
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise InvalidInput(f"{len(named)} groups are named '{ref}'; give the group's id instead.")
        raise NotFound(
            f"Resource '{ref}' does not exist or one of its queried reference-property "
            "objects are not present.",
            kind="group",
        )

    def get_group(self, ref: str) -> Group:
        access.require_app_permission(self.principal, *GROUP_READ)
        return self.find_group(ref)

    def list_groups(self) -> list[Group]:
        access.require_app_permission(self.principal, *GROUP_READ)
        return store.groups(self.tx)

    def search_groups(
        self, conditions: Sequence[Condition], *, after: store.GroupKey | None, limit: int
    ) -> Found[Group]:
        access.require_app_permission(self.principal, *GROUP_READ)
        rows = store.find_groups(self.tx, conditions, after=after, limit=limit + 1)
        return Found(rows[:limit], store.group_key(rows[limit - 1]) if len(rows) > limit else None)

    def count_groups(self, conditions: Sequence[Condition]) -> int:
        access.require_app_permission(self.principal, *GROUP_READ)
        return store.count_groups(self.tx, conditions)

    def search_members(
        self, group_ref_text: str, conditions: Sequence[Condition], *, after: store.UserKey | None, limit: int
    ) -> Found[User]:
        access.require_app_permission(self.principal, *GROUP_READ)
        group = self.find_group(group_ref_text)
        rows = store.find_users(self.tx, conditions, after=after, limit=limit + 1, group_id=group.id)
        return _users_page(rows, limit)

    def count_members(self, group_ref_text: str, conditions: Sequence[Condition]) -> int:
        access.require_app_permission(self.principal, *GROUP_READ)
        group = self.find_group(group_ref_text)
        return store.count_users(self.tx, conditions, group_id=group.id)

    def add_member(self, group_ref_text: str, user_ref_text: str) -> None:
        self._write_groups()
        group = self.find_group(group_ref_text)
        if store.user_by_id_or_upn(self.tx, user_ref_text) is None and store.group_by_id(
            self.tx, user_ref_text
        ):
            raise InvalidInput("Passbridge groups hold users only; a group cannot be a member of a group.")
        user = self.find_user(user_ref_text)
        if store.is_member(self.tx, group.id, user.id):
            raise Conflict(
                "One or more added object references already exist for the following "
                f"modified properties: 'members' ({user.user_principal_name})."
            )
        self.tx.session.add(GroupMember(group_id=group.id, user_id=user.id))
        self._audit("Add member to group", "Assign", [user_ref(user), group_ref(group)], "GroupManagement")

    def remove_member(self, group_ref_text: str, user_ref_text: str) -> None:
        self._write_groups()
        group = self.find_group(group_ref_text)
        user = self.find_user(user_ref_text)
        if not store.remove_member(self.tx, group.id, user.id):
            raise NotFound(
                f"{user.user_principal_name} is not a member of {group.display_name}.", kind="member"
            )
        self._audit(
            "Remove member from group", "Unassign", [user_ref(user), group_ref(group)], "GroupManagement"
        )

    def update_group(
        self, ref: str, *, display_name: str | Unset = UNSET, external_id: str | Unset | None = UNSET
    ) -> Group:
        """Rename a group or change its provisioning id; one "Update group" audit entry lists what changed."""
        self._write_groups()
        group = self.find_group(ref)
        changed: list[ModifiedProperty] = []
        if not isinstance(display_name, Unset):
            name = check_display_name(display_name)
            if name != group.display_name:
                changed.append(ModifiedProperty("DisplayName", group.display_name, name))
                group.display_name = name
        if not isinstance(external_id, Unset):
            value = check_display_name(external_id, what="externalId") if external_id is not None else None
            if value != group.external_id:
                changed.append(ModifiedProperty("ExternalId", group.external_id, value))
                group.external_id = value
        if changed:
            self.tx.session.flush()
            properties = tuple(changed)
            target = TargetRef("Group", group.id, group.display_name, None, modified_properties=properties)
            self._audit("Update group", "Update", [target], "GroupManagement")
        return group

    def delete_group(self, ref: str) -> None:
        self._write_groups()
        group = self.find_group(ref)
        self._audit("Delete group", "Delete", [group_ref(group)], "GroupManagement")
        self.tx.session.delete(group)
        self.tx.session.flush()

    # --- roles ------------------------------------------------------------------------------

    def assign_role(self, role_text: str, user_ref_text: str) -> tuple[Role, User]:
        roles = RoleService(self.tx, self.env, self.principal)
        roles.require()  # before revealing whether the user exists
        user = self.find_user(user_ref_text)
        return roles.assign(role_text, user), user

    def remove_role(self, role_text: str, user_ref_text: str) -> tuple[Role, User]:
        roles = RoleService(self.tx, self.env, self.principal)
        roles.require()
        user = self.find_user(user_ref_text)
        return roles.remove(role_text, user), user


def _duplicate_upn(name: str) -> str:
    return f"Another object with the same value for property userPrincipalName already exists: '{name}'."
