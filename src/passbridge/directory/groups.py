"""Groups and their members (Graph's groups, SCIM's Groups): DirectoryService's group methods."""

from __future__ import annotations

from collections.abc import Sequence

from passbridge.directory import access
from passbridge.directory import queries as store
from passbridge.directory.base import (
    GROUP_READ,
    UNSET,
    DirectoryBase,
    Found,
    Unset,
    _users_page,
    group_ref,
    user_ref,
)
from passbridge.directory.queries import Condition
from passbridge.directory.rules import (
    check_description,
    check_display_name,
)
from passbridge.domain.errors import Conflict, InvalidInput, NotFound
from passbridge.ids import new_guid
from passbridge.logs.audit import ModifiedProperty, TargetRef
from passbridge.store.models import Group, GroupMember, User


class GroupMethods(DirectoryBase):
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
