"""Reading and deleting a user's passkeys (Graph's fido2Methods) and authenticator apps
(softwareOathMethods). Registering them belongs to the security-info pages (methods/passkeys.py,
methods/oath.py); what is shown never includes key material: no public key, credential id or seed.

The permission rules are the TAP's (methods/access.py): `.All` permissions on others, plus a
role tier for delegated callers; a user may read and delete their own. An administrator deleting a
user's method ends the user's sign-ins (tokens/revocation.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from passbridge.directory.service import user_ref
from passbridge.domain.errors import NotFound
from passbridge.logs import audit
from passbridge.methods import oath_queries as oath_store
from passbridge.methods import passkey_queries as passkey_store
from passbridge.methods.access import MethodAccess, Scopes, readable_methods
from passbridge.methods.reads import AllMethods, AppSummary, PasskeySummary, all_methods
from passbridge.passes import queries as tap_store
from passbridge.passes.service import TapService
from passbridge.services.context import Env, Principal
from passbridge.store.models import User
from passbridge.store.tx import Tx
from passbridge.tokens.revocation import revoke_after_admin_change

S = TypeVar("S", PasskeySummary, AppSummary)
SERVICE = "Authentication Methods"
ALL_WRITE = "UserAuthenticationMethod.ReadWrite.All"
ALL_READ = "UserAuthenticationMethod.Read.All"
OWN = ("UserAuthenticationMethod.Read", "UserAuthenticationMethod.ReadWrite")
# Graph also offers the narrower UserAuthMethod-Passkey.* permissions for passkeys.
PASSKEY_WRITE = (ALL_WRITE, "UserAuthMethod-Passkey.ReadWrite.All")
PASSKEY_READ = (ALL_READ, "UserAuthMethod-Passkey.Read.All", *PASSKEY_WRITE)
APP_WRITE = (ALL_WRITE,)
APP_READ = (ALL_READ, ALL_WRITE)
PASSKEY_READ_SCOPES = Scopes(others=PASSKEY_READ, own=(*OWN, *PASSKEY_READ))
PASSKEY_WRITE_SCOPES = Scopes(
    others=PASSKEY_WRITE, own=("UserAuthenticationMethod.ReadWrite", *PASSKEY_WRITE)
)
APP_READ_SCOPES = Scopes(others=APP_READ, own=(*OWN, *APP_READ))
APP_WRITE_SCOPES = Scopes(others=APP_WRITE, own=("UserAuthenticationMethod.ReadWrite", *APP_WRITE))


# --- reads (Core only: an autocommit Tx on the Graph read path) -----------------------------------


def passkey_views(tx: Tx, env: Env, found: AllMethods) -> list[PasskeySummary]:
    """The user's passkeys for the list of every method; the caller checked access."""
    return list(found.passkeys)


def app_views(tx: Tx, env: Env, found: AllMethods) -> list[AppSummary]:
    return list(found.apps)


def _find(items: Sequence[S], method_id: str, kind: str) -> S:
    wanted = method_id.strip().lower()
    for item in items:
        if item.id == wanted:
            return item
    raise NotFound(f"No {kind} with id '{method_id}' exists for this user.", kind="method")


def list_passkeys(tx: Tx, env: Env, principal: Principal, user_ref_text: str) -> list[PasskeySummary]:
    found = readable_methods(tx, principal, user_ref_text, PASSKEY_READ_SCOPES, load=all_methods)
    return list(found.passkeys)


def get_passkey(tx: Tx, env: Env, principal: Principal, user_ref_text: str, method_id: str) -> PasskeySummary:
    found = readable_methods(tx, principal, user_ref_text, PASSKEY_READ_SCOPES, load=all_methods)
    return _find(found.passkeys, method_id, "fido2AuthenticationMethod")


def list_apps(tx: Tx, env: Env, principal: Principal, user_ref_text: str) -> list[AppSummary]:
    found = readable_methods(tx, principal, user_ref_text, APP_READ_SCOPES, load=all_methods)
    return list(found.apps)


def get_app(tx: Tx, env: Env, principal: Principal, user_ref_text: str, method_id: str) -> AppSummary:
    found = readable_methods(tx, principal, user_ref_text, APP_READ_SCOPES, load=all_methods)
    return _find(found.apps, method_id, "softwareOathAuthenticationMethod")


# --- deletes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    scopes: Scopes
    graph_name: str  # for "not found" messages
    wording: str  # for audit reasons and the revocation's reason
    ids_of: Callable[[Tx, str], list[str]]
    remove: Callable[[Tx, str, str], bool]


PASSKEY = _Kind(
    PASSKEY_WRITE_SCOPES,
    "fido2AuthenticationMethod",
    "passkey (FIDO2)",
    lambda tx, user_id: [p.id for p in passkey_store.of_user(tx, user_id)],
    passkey_store.remove,
)
APP = _Kind(
    APP_WRITE_SCOPES,
    "softwareOathAuthenticationMethod",
    "authenticator app (software OATH)",
    lambda tx, user_id: [a.id for a in oath_store.of_user(tx, user_id)],
    oath_store.remove,
)


@dataclass
class PasswordlessMethodService:
    tx: Tx
    env: Env
    principal: Principal

    def _access(self) -> MethodAccess:
        return MethodAccess(self.tx, self.env, self.principal)

    def delete_passkey(self, user_ref_text: str, method_id: str) -> None:
        self._delete(PASSKEY, user_ref_text, method_id)

    def delete_app(self, user_ref_text: str, method_id: str) -> None:
        self._delete(APP, user_ref_text, method_id)

    def delete_any(self, user_ref_text: str, method_id: str) -> str:
        """Delete whichever method of the user has this id (the CLI's `method delete`); its kind."""
        access = self._access()
        user = access.manager(user_ref_text, PASSKEY_WRITE_SCOPES, allow_self=True)
        wanted = method_id.strip().lower()
        for name, kind in (("fido2", PASSKEY), ("softwareOath", APP)):
            if wanted in kind.ids_of(self.tx, user.id):
                self._delete(kind, user.id, method_id)
                return name
        held = tap_store.of_user(self.tx, user.id)
        if held is not None and held.id == wanted:
            TapService(self.tx, self.env, self.principal).delete(user.id, method_id)
            return "temporaryAccessPass"
        raise NotFound(
            f"{user.user_principal_name} has no authentication method with id '{method_id}'.", kind="method"
        )

    def _delete(self, kind: _Kind, user_ref_text: str, method_id: str) -> None:
        """Checks run permission (403), user (404), role tier (403), method (404), as for passes."""
        access = self._access()
        user = access.manager(user_ref_text, kind.scopes, allow_self=True)
        # Serialise changes to one user's methods across processes (as pass changes are).
        tap_store.lock_owner(self.tx, user.id)
        wanted = method_id.strip().lower()
        if wanted not in kind.ids_of(self.tx, user.id) or not kind.remove(self.tx, user.id, wanted):
            raise NotFound(f"No {kind.graph_name} with id '{method_id}' exists for this user.", kind="method")
        by_owner = access.is_self(user)
        self._audit(user, kind, by_owner=by_owner)
        article = "an" if kind.wording[0] in "aeiou" else "a"
        revoke_after_admin_change(
            self.tx,
            self.env,
            self.principal,
            user,
            what=f"an administrator deleted {article} {kind.wording}",
        )

    def _audit(self, user: User, kind: _Kind, *, by_owner: bool) -> None:
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=self.principal,
            activity=f"{'User' if by_owner else 'Admin'} deleted security info",
            category="UserManagement",
            operation_type="Delete",
            logged_by_service=SERVICE,
            result_reason=(
                f"User deleted {kind.wording} method"
                if by_owner
                else f"Admin deleted {kind.wording} method for user"
            ),
            targets=[user_ref(user)],
        )
