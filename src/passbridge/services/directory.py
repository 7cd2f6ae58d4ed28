"""Users, groups and directory roles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from passbridge.domain.directory import Role, check_display_name, normalise_upn, parse_role, upn_key
from passbridge.domain.errors import Conflict, InvalidInput, NotFound
from passbridge.services import access, audit
from passbridge.services.audit import TargetRef
from passbridge.services.context import Env, Principal
from passbridge.store import directory as store
from passbridge.store.models import Group, GroupMember, RoleAssignment, User


def user_ref(user: User) -> TargetRef:
    return TargetRef("User", user.id, user.display_name, user.user_principal_name)


def group_ref(group: Group) -> TargetRef:
    return TargetRef("Group", group.id, group.display_name)


@dataclass
class DirectoryService:
    session: Session
    env: Env
    principal: Principal

    def _audit(self, activity: str, operation: str, targets: list[TargetRef], category: str) -> None:
        audit.record(
            self.session,
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
    ) -> User:
        access.require_app_permission(self.principal, "User.ReadWrite.All")
        name = normalise_upn(upn)
        if store.user_by_upn(self.session, name) is not None:
            raise Conflict(
                f"Another object with the same value for property userPrincipalName already exists: '{name}'."
            )
        now = self.env.clock.now()
        user = User(
            id=str(uuid.uuid4()),
            user_principal_name=name,
            upn_key=upn_key(name),
            display_name=check_display_name(display_name or name.split("@")[0]),
            mail=normalise_upn(mail) if mail else None,
            account_enabled=account_enabled,
            created_at=now,
            sessions_valid_from=now,
        )
        self.session.add(user)
        try:
            self.session.flush()
        except IntegrityError:
            # Another transaction won the race for this name between our check and insert.
            raise Conflict(
                f"Another object with the same value for property userPrincipalName already exists: '{name}'."
            ) from None
        self._audit("Add user", "Add", [user_ref(user)], "UserManagement")
        return user

    def find_user(self, ref: str) -> User:
        user = store.user_by_id_or_upn(self.session, ref)
        if user is None:
            raise NotFound(
                f"Resource '{ref}' does not exist or one of its queried reference-property "
                "objects are not present.",
                kind="user",
            )
        return user

    def get_user(self, ref: str) -> User:
        access.require_app_permission(self.principal, "User.Read.All", "User.ReadWrite.All")
        return self.find_user(ref)

    def list_users(self) -> list[User]:
        access.require_app_permission(self.principal, "User.Read.All", "User.ReadWrite.All")
        return store.users(self.session)

    def set_account_enabled(self, ref: str, enabled: bool) -> User:
        access.require_app_permission(self.principal, "User.ReadWrite.All")
        user = self.find_user(ref)
        if user.account_enabled != enabled:
            user.account_enabled = enabled
            if not enabled:
                # A disabled account loses its sessions and refresh tokens at once.
                user.sessions_valid_from = self.env.clock.now()
            self._audit(
                "Enable account" if enabled else "Disable account",
                "Update",
                [user_ref(user)],
                "UserManagement",
            )
        return user

    def delete_user(self, ref: str) -> None:
        access.require_app_permission(self.principal, "User.ReadWrite.All")
        user = self.find_user(ref)
        self._audit("Delete user", "Delete", [user_ref(user)], "UserManagement")
        self.session.delete(user)
        self.session.flush()

    def groups_of(self, user: User) -> list[Group]:
        ids = set(store.group_ids_of(self.session, user.id))
        return [g for g in store.groups(self.session) if g.id in ids]

    def roles_of(self, user: User) -> list[Role]:
        return [Role(r) for r in store.role_ids_of(self.session, user.id) if r in Role._value2member_map_]

    # --- groups -----------------------------------------------------------------------------

    def add_group(
        self, display_name: str, *, description: str | None = None, unique_name: bool = False
    ) -> Group:
        access.require_app_permission(self.principal, "Group.ReadWrite.All")
        name = check_display_name(display_name)
        if unique_name and store.groups_named(self.session, name):
            raise Conflict(f"A group named '{name}' already exists.")
        group = Group(
            id=str(uuid.uuid4()), display_name=name, description=description, created_at=self.env.clock.now()
        )
        self.session.add(group)
        self._audit("Add group", "Add", [group_ref(group)], "GroupManagement")
        return group

    def find_group(self, ref: str) -> Group:
        """By id, or (for operators) by a display name that names exactly one group."""
        group = store.group_by_id(self.session, ref)
        if group is not None:
            return group
        named = store.groups_named(self.session, ref)
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise InvalidInput(f"{len(named)} groups are named '{ref}'; give the group's id instead.")
        raise NotFound(
            f"Resource '{ref}' does not exist or one of its queried reference-property "
            "objects are not present.",
            kind="group",
        )

    def list_groups(self) -> list[Group]:
        access.require_app_permission(self.principal, "Group.Read.All", "Group.ReadWrite.All")
        return store.groups(self.session)

    def add_member(self, group_ref_text: str, user_ref_text: str) -> None:
        access.require_app_permission(self.principal, "Group.ReadWrite.All")
        group = self.find_group(group_ref_text)
        user = self.find_user(user_ref_text)
        if store.is_member(self.session, group.id, user.id):
            raise Conflict(
                "One or more added object references already exist for the following "
                f"modified properties: 'members' ({user.user_principal_name})."
            )
        self.session.add(GroupMember(group_id=group.id, user_id=user.id))
        self._audit("Add member to group", "Assign", [user_ref(user), group_ref(group)], "GroupManagement")

    def remove_member(self, group_ref_text: str, user_ref_text: str) -> None:
        access.require_app_permission(self.principal, "Group.ReadWrite.All")
        group = self.find_group(group_ref_text)
        user = self.find_user(user_ref_text)
        if not store.remove_member(self.session, group.id, user.id):
            raise NotFound(
                f"{user.user_principal_name} is not a member of {group.display_name}.", kind="member"
            )
        self._audit(
            "Remove member from group", "Unassign", [user_ref(user), group_ref(group)], "GroupManagement"
        )

    # --- roles ------------------------------------------------------------------------------

    def assign_role(self, role_text: str, user_ref_text: str) -> tuple[Role, User]:
        access.require_operator(self.principal, "assign directory roles")
        role = parse_role(role_text)
        user = self.find_user(user_ref_text)
        if store.role_assignment(self.session, role.value, user.id) is not None:
            raise Conflict(f"{user.user_principal_name} already holds the role {role.display_name}.")
        self.session.add(
            RoleAssignment(
                id=str(uuid.uuid4()),
                role_template_id=role.value,
                user_id=user.id,
                created_at=self.env.clock.now(),
            )
        )
        self._audit(
            "Add member to role",
            "Assign",
            [user_ref(user), TargetRef("Role", role.value, role.display_name)],
            "RoleManagement",
        )
        return role, user
