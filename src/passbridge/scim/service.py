"""SCIM's operations on users and groups, in one transaction each, through DirectoryService.

PATCH is applied by scim2-models to the resource as it stands (RFC 7644 §3.5.2, with the tolerances Entra
needs: schemas.POLICY), and the result is written as a PUT would be: the difference between the patched
resource and the stored one. So a PATCH and a PUT that mean the same change write the same rows and the same
audit entries. A precondition (`If-Match`) is checked against the ETag of the resource read in the same
transaction, after the row is locked, so two clients racing with the same ETag cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim2_models import Context, PatchOp

from passbridge.directory import access
from passbridge.directory import queries as directory_store
from passbridge.directory.service import GROUP_READ, USER_READ, DirectoryService
from passbridge.domain.errors import NotFound
from passbridge.scim import queries as store
from passbridge.scim.errors import ScimError
from passbridge.scim.resources import (
    Document,
    UserFields,
    etag_of,
    group_document,
    group_fields,
    user_document,
    user_fields,
)
from passbridge.scim.schemas import POLICY, group_model, user_model
from passbridge.services.context import Env, Principal
from passbridge.store.models import Group, User
from passbridge.store.tx import Tx

_PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _validated(model: Any, raw: Any, context: Context) -> Document:
    if not isinstance(raw, dict):
        raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")
    with POLICY:
        parsed = model.model_validate(raw, scim_ctx=context)
        dumped: Document = parsed.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    return dumped


def _with_user_defaults(raw: Any) -> Any:
    """displayName and active are required here (every user has them); a client that leaves them out of
    a creation or replacement gets the alias of its userName and an enabled account, as Graph's own
    defaults would be, rather than a refusal."""
    if not isinstance(raw, dict):
        return raw
    lowered = {str(k).lower() for k in raw}
    filled = dict(raw)
    name = (
        raw.get("userName")
        if "username" in lowered
        else next((v for k, v in raw.items() if str(k).lower() == "username"), None)
    )
    if "displayname" not in lowered and isinstance(name, str) and name.strip():
        filled["displayName"] = name.strip().split("@")[0]
    if "active" not in lowered:
        filled["active"] = True
    return filled


def _entra_patch(raw: Any) -> Any:
    """Entra sends the manager as a bare id (`"value": "<id>"`) where the schema has a complex value."""
    if not isinstance(raw, dict):
        return raw
    for operation in raw.get("Operations") or raw.get("operations") or []:
        if not isinstance(operation, dict):
            continue
        path = str(operation.get("path") or "").lower()
        if path.endswith("manager") and isinstance(operation.get("value"), str):
            operation["value"] = {"value": operation["value"]}
    return raw


def _patched(model: Any, current: Document, raw: Any) -> Document:
    if not isinstance(raw, dict):
        raise ScimError(400, "The request body must be a JSON object.", "invalidSyntax")
    if _PATCH_SCHEMA not in (raw.get("schemas") or []):
        raise ScimError(400, f"A PATCH body must name the schema {_PATCH_SCHEMA}.", "invalidSyntax")
    with POLICY:
        resource = model.model_validate(current)
        patch = PatchOp[model].model_validate(_entra_patch(raw), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        patch.patch(resource)
        dumped: Document = resource.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    return dumped


def _stored(document: Document) -> Document:
    """The writable part of a resource as we show it: what PATCH starts from."""
    return {k: v for k, v in document.items() if k not in ("meta", "groups")}


def check_precondition(document: Document, if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    current = etag_of(document)
    if current not in wanted and current.removeprefix("W/") not in wanted:
        raise ScimError(412, "The resource changed since it was read: its ETag no longer matches If-Match.")


@dataclass
class ScimService:
    tx: Tx
    env: Env
    principal: Principal
    base: str  # the /scim/v2 URL, for locations and $refs

    @property
    def directory(self) -> DirectoryService:
        return DirectoryService(self.tx, self.env, self.principal)

    # --- users ---------------------------------------------------------------------------------

    def _user(self, user_id: str) -> User:
        user = directory_store.user_by_id(self.tx, user_id)
        if user is None:
            raise ScimError(404, f"No user has the id '{user_id}'.")
        return user

    def get_user(self, user_id: str) -> Document:
        access.require_app_permission(self.principal, *USER_READ)
        return user_document(self.tx, self._user(user_id), self.base)

    def list_users(
        self, text: str | None, *, sort_by: str | None, descending: bool, start: int, count: int
    ) -> tuple[int, list[Document]]:
        access.require_app_permission(self.principal, *USER_READ)
        page = store.list_users(
            self.tx, text, sort_by=sort_by, descending=descending, start=start, count=count
        )
        return page.total, [user_document(self.tx, u, self.base) for u in page.rows]

    def create_user(self, raw: Any) -> Document:
        wanted = user_fields(
            _validated(user_model(), _with_user_defaults(raw), Context.RESOURCE_CREATION_REQUEST)
        )
        directory = self.directory
        user = directory.add_user(
            wanted.user_principal_name,
            display_name=wanted.display_name,
            mail=wanted.mail,
            account_enabled=wanted.account_enabled,
            bare_name=True,
            **_hr(wanted),
        )
        if wanted.manager_id is not None:
            directory.set_manager(user.id, self._manager_ref(wanted.manager_id))
        return user_document(self.tx, user, self.base)

    def replace_user(self, user_id: str, raw: Any, if_match: str | None) -> Document:
        user = self._locked_user(user_id, if_match)
        wanted = user_fields(
            _validated(user_model(), _with_user_defaults(raw), Context.RESOURCE_REPLACEMENT_REQUEST)
        )
        return self._write_user(user, wanted)

    def patch_user(self, user_id: str, raw: Any, if_match: str | None) -> Document:
        user = self._locked_user(user_id, if_match)
        current = user_document(self.tx, user, self.base)
        wanted = user_fields(_patched(user_model(), _stored(current), raw))
        return self._write_user(user, wanted)

    def delete_user(self, user_id: str, if_match: str | None) -> None:
        user = self._locked_user(user_id, if_match)
        self.directory.delete_user(user.id)

    def _locked_user(self, user_id: str, if_match: str | None) -> User:
        access.require_app_permission(self.principal, *USER_READ)
        user = self._user(user_id)
        directory_store.lock_user(self.tx, user.id)
        self.tx.session.refresh(user)
        check_precondition(user_document(self.tx, user, self.base), if_match)
        return user

    def _manager_ref(self, manager_id: str) -> str:
        if directory_store.user_by_id(self.tx, manager_id) is None:
            raise ScimError(400, f"The manager '{manager_id}' is not a user here.", "invalidValue")
        return manager_id

    def _write_user(self, user: User, wanted: UserFields) -> Document:
        changes = wanted.changes_from(UserFields.of_user(user))
        manager = changes.pop("manager_id", _KEEP)
        if changes.get("display_name", _KEEP) is None:
            # displayName cannot be empty here (Graph requires one): leaving it out keeps the current one.
            changes.pop("display_name")
        directory = self.directory
        if changes:
            directory.update_user(user.id, bare_name=True, **changes)
        if manager is not _KEEP:
            directory.set_manager(user.id, None if manager is None else self._manager_ref(str(manager)))
        self.tx.session.refresh(user)
        return user_document(self.tx, user, self.base)

    # --- groups --------------------------------------------------------------------------------

    def _group(self, group_id: str) -> Group:
        group = directory_store.group_by_id(self.tx, group_id)
        if group is None:
            raise ScimError(404, f"No group has the id '{group_id}'.")
        return group

    def get_group(self, group_id: str, *, with_members: bool = True) -> Document:
        access.require_app_permission(self.principal, *GROUP_READ)
        return group_document(self.tx, self._group(group_id), self.base, with_members=with_members)

    def list_groups(
        self,
        text: str | None,
        *,
        sort_by: str | None,
        descending: bool,
        start: int,
        count: int,
        with_members: bool = True,
    ) -> tuple[int, list[Document]]:
        access.require_app_permission(self.principal, *GROUP_READ)
        page = store.list_groups(
            self.tx, text, sort_by=sort_by, descending=descending, start=start, count=count
        )
        return page.total, [
            group_document(self.tx, g, self.base, with_members=with_members) for g in page.rows
        ]

    def create_group(self, raw: Any) -> Document:
        wanted = group_fields(_validated(group_model(), raw, Context.RESOURCE_CREATION_REQUEST))
        directory = self.directory
        group = directory.add_group(wanted.display_name)
        if wanted.external_id is not None:
            directory.update_group(group.id, external_id=wanted.external_id)
        self._set_members(group, wanted.member_ids or [])
        return group_document(self.tx, group, self.base)

    def replace_group(self, group_id: str, raw: Any, if_match: str | None) -> Document:
        group = self._locked_group(group_id, if_match)
        wanted = group_fields(_validated(group_model(), raw, Context.RESOURCE_REPLACEMENT_REQUEST))
        return self._write_group(group, wanted)

    def patch_group(self, group_id: str, raw: Any, if_match: str | None) -> Document:
        group = self._locked_group(group_id, if_match)
        current = group_document(self.tx, group, self.base)
        wanted = group_fields(_patched(group_model(), _stored(current), raw))
        return self._write_group(group, wanted)

    def delete_group(self, group_id: str, if_match: str | None) -> None:
        group = self._locked_group(group_id, if_match)
        self.directory.delete_group(group.id)

    def _locked_group(self, group_id: str, if_match: str | None) -> Group:
        access.require_app_permission(self.principal, *GROUP_READ)
        group = self._group(group_id)
        directory_store.lock_group(self.tx, group.id)
        self.tx.session.refresh(group)
        check_precondition(group_document(self.tx, group, self.base), if_match)
        return group

    def _write_group(self, group: Group, wanted: Any) -> Document:
        directory = self.directory
        directory.update_group(group.id, display_name=wanted.display_name, external_id=wanted.external_id)
        if wanted.member_ids is not None:
            self._set_members(group, wanted.member_ids)
        return group_document(self.tx, group, self.base)

    def _set_members(self, group: Group, member_ids: list[str]) -> None:
        current = {uid for uid, _, _ in store.member_rows(self.tx, group.id)}
        wanted = set(member_ids)
        directory = self.directory
        for uid in sorted(wanted - current):
            if directory_store.user_by_id(self.tx, uid) is None:
                raise ScimError(400, f"The member '{uid}' is not a user here.", "invalidValue")
            directory.add_member(group.id, uid)
        for uid in sorted(current - wanted):
            try:
                directory.remove_member(group.id, uid)
            except NotFound:
                continue


_KEEP: Any = object()

_HR_FIELDS = (
    "external_id",
    "job_title",
    "employee_type",
    "other_mails",
    "mobile_phone",
    "employee_id",
    "company_name",
    "department",
    "employee_hire_date",
)


def _hr(wanted: UserFields) -> dict[str, Any]:
    return {name: getattr(wanted, name) for name in _HR_FIELDS}
