"""Users, their managers and directory roles; groups come from groups.py (DirectoryService is one class
for its callers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from passbridge.directory import access, hr
from passbridge.directory import queries as store
from passbridge.directory.base import (
    GROUP_READ,
    GROUP_WRITE,
    GROUP_WRITE_ROLES,
    SELF_READ,
    UNSET,
    USER_ADMINISTRATOR_MAY_MANAGE,
    USER_READ,
    USER_WRITE,
    DirectoryBase,
    Found,
    Unset,
    _users_page,
    group_ref,
    user_not_found,
    user_ref,
)
from passbridge.directory.groups import GroupMethods
from passbridge.directory.queries import Condition
from passbridge.directory.roles import RoleService
from passbridge.directory.rules import (
    Role,
    check_display_name,
    check_manager,
    normalise_sign_in_name,
    normalise_upn,
    upn_key,
)
from passbridge.domain.errors import Conflict, InvalidInput
from passbridge.ids import new_guid
from passbridge.logs.audit import ModifiedProperty, TargetRef
from passbridge.store.models import Group, User

__all__ = [
    "GROUP_READ",
    "GROUP_WRITE",
    "GROUP_WRITE_ROLES",
    "UNSET",
    "USER_ADMINISTRATOR_MAY_MANAGE",
    "USER_READ",
    "USER_WRITE",
    "Condition",
    "DirectoryBase",
    "DirectoryService",
    "Found",
    "Unset",
    "group_ref",
    "user_not_found",
    "user_ref",
]


class DirectoryService(GroupMethods):
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
