"""Directory role assignments: who holds which administrator role.

The operator (the CLI) and, delegated, a Global Administrator assign and remove roles, as in Entra (where a
Privileged Role Administrator may too; Passbridge has no such role). Nobody removes their own Global
Administrator role, so a tenant cannot lose its last one from the portal by a slip.
"""

from __future__ import annotations

from dataclasses import dataclass

from passbridge.directory import queries as store
from passbridge.directory.rules import Role, parse_role
from passbridge.domain.errors import Conflict, NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.logs.audit import TargetRef
from passbridge.services.context import Env, Principal
from passbridge.store.models import RoleAssignment, User
from passbridge.store.tx import Tx


def _user_ref(user: User) -> TargetRef:
    return TargetRef("User", user.id, user.display_name, user.user_principal_name)


@dataclass
class RoleService:
    tx: Tx
    env: Env
    principal: Principal

    def require(self) -> None:
        if self.principal.is_operator:
            return
        if self.principal.kind != "user" or Role.GLOBAL_ADMINISTRATOR not in self.principal.roles:
            raise PermissionDenied("Assigning directory roles needs the Global Administrator role.")

    def _audit(self, activity: str, operation: str, user: User, role: Role) -> None:
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=self.principal,
            activity=activity,
            category="RoleManagement",
            operation_type=operation,
            targets=[_user_ref(user), TargetRef("Role", role.value, role.display_name)],
        )

    def assign(self, role_text: str, user: User) -> Role:
        self.require()
        role = parse_role(role_text)
        if store.role_assignment(self.tx, role.value, user.id) is not None:
            raise Conflict(f"{user.user_principal_name} already holds the role {role.display_name}.")
        self.tx.session.add(
            RoleAssignment(
                id=new_guid(), role_template_id=role.value, user_id=user.id, created_at=self.env.clock.now()
            )
        )
        self._audit("Add member to role", "Assign", user, role)
        return role

    def remove(self, role_text: str, user: User) -> Role:
        self.require()
        role = parse_role(role_text)
        if role is Role.GLOBAL_ADMINISTRATOR and self.principal.id == user.id:
            raise PermissionDenied("You cannot remove your own Global Administrator role.")
        found = store.role_assignment(self.tx, role.value, user.id)
        if found is None:
            raise NotFound(
                f"{user.user_principal_name} does not hold the role {role.display_name}.", kind="role"
            )
        self.tx.session.delete(found)
        self._audit("Remove member from role", "Unassign", user, role)
        return role
