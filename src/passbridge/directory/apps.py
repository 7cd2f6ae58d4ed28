"""Application (client) registrations."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from passbridge.directory import queries as store
from passbridge.directory.rules import Role, check_display_name, parse_permission
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.logs.audit import ModifiedProperty, TargetRef
from passbridge.methods import strength_policies
from passbridge.security.secrets import new_client_secret
from passbridge.services.context import Env, Principal
from passbridge.store.models import Application
from passbridge.store.tx import Tx


@dataclass(frozen=True)
class NewApplication:
    application: Application
    client_secret: str | None  # shown once, never stored; None for a public client


def check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"redirect URI '{uri}' must be an absolute https URL.")
    if parts.scheme == "http" and not local:
        raise InvalidInput(f"redirect URI '{uri}' must use https (http is allowed only for localhost).")
    if parts.fragment:
        raise InvalidInput(f"redirect URI '{uri}' must not contain a fragment.")
    return uri


def check_home_page(uri: str) -> str:
    """A home page is opened from My apps: an absolute https URL (http for localhost), like a redirect URI."""
    try:
        return check_redirect_uri(uri)
    except InvalidInput:
        raise InvalidInput(
            f"home page '{uri}' must be an absolute https URL (http is allowed only for localhost)."
        ) from None


# Who manages registrations besides the operator, as in Entra: an Application Administrator registers and
# looks after sign-in clients; granting application permissions (admin consent) takes a Global Administrator.
MANAGERS = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.APPLICATION_ADMINISTRATOR})
READERS = MANAGERS | {Role.GLOBAL_READER}
CONSENT = frozenset({Role.GLOBAL_ADMINISTRATOR})


@dataclass
class ApplicationService:
    tx: Tx
    env: Env
    principal: Principal

    def _require(self, roles: frozenset[Role], what: str) -> None:
        if self.principal.is_operator:
            return
        if self.principal.kind != "user" or not self.principal.roles & roles:
            names = " or ".join(sorted(r.display_name for r in roles))
            raise PermissionDenied(f"To {what} you need the {names} role.")

    def register(
        self,
        display_name: str,
        *,
        permissions: list[str],
        redirect_uris: list[str],
        public: bool = False,
        required_strength: str | None = None,
        home_page: str | None = None,
    ) -> NewApplication:
        """A confidential client gets a secret; a public client (a browser or native app, which could
        not keep one) gets none and must sign users in with PKCE."""
        self._require(MANAGERS, "register applications")
        name = check_display_name(display_name)
        perms = sorted({parse_permission(p) for p in permissions})
        if perms:
            self._require(CONSENT, "grant an application permissions")
        uris = list(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
        home = check_home_page(home_page) if home_page else None
        if public and perms:
            raise InvalidInput(
                "A public client cannot hold application permissions: it has no secret to prove them."
            )
        if public and not uris:
            raise InvalidInput("A public client needs at least one redirect URI (--redirect-uri).")
        # By id or name (methods/strength_policies.py); the id is what is stored.
        strength = strength_policies.resolve(self.tx, required_strength) if required_strength else None
        secret = None if public else new_client_secret()
        app = Application(
            id=new_guid(),
            app_id=new_guid(),
            display_name=name,
            secret_hash=self.env.keeper.keyed_hash(secret) if secret else "",
            redirect_uris=uris,
            permissions=perms,
            created_at=self.env.clock.now(),
            is_public_client=public,
            required_strength=strength.id if strength else None,
            home_page_url=home,
        )
        self.tx.session.add(app)
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=self.principal,
            activity="Add application",
            category="ApplicationManagement",
            operation_type="Add",
            targets=[TargetRef("Application", app.id, app.display_name)],
            details={
                "AppId": app.app_id,
                "Permissions": ", ".join(perms) or "(none)",
                "ClientType": "public" if public else "confidential",
            },
        )
        return NewApplication(app, secret)

    def list(self) -> list[Application]:
        self._require(READERS, "list applications")
        return store.applications(self.tx)

    def get(self, app_id: str) -> Application:
        self._require(READERS, "read applications")
        app = store.application_by_app_id(self.tx, app_id)
        if app is None:
            raise NotFound(f"No application with appId '{app_id}' exists.", kind="application")
        return app

    def rotate_secret(self, app_id: str) -> NewApplication:
        """A new client secret, shown once; the old one stops working at once."""
        app = self.get(app_id)
        self._require(MANAGERS, "change applications")
        if app.permissions:
            self._require(
                frozenset({Role.GLOBAL_ADMINISTRATOR}), "change an application that holds permissions"
            )
        if app.is_public_client:
            raise InvalidInput("A public client has no secret to rotate: it signs users in with PKCE.")
        secret = new_client_secret()
        app.secret_hash = self.env.keeper.keyed_hash(secret)
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=self.principal,
            activity="Update application - Certificates and secrets management",
            category="ApplicationManagement",
            operation_type="Update",
            targets=[TargetRef("Application", app.id, app.display_name)],
            details={"AppId": app.app_id},
        )
        return NewApplication(app, secret)

    def require_strength(self, app_id: str, reference: str | None) -> Application:
        """Require an authentication strength (by id or name) of every sign-in to the app, or none."""
        app = self.get(app_id)
        self._require(MANAGERS, "change applications")
        strength = strength_policies.resolve(self.tx, reference) if reference else None
        new = strength.id if strength else None
        if new != app.required_strength:
            change = ModifiedProperty("RequiredStrength", app.required_strength, new)
            audit.record(
                self.tx,
                now=self.env.clock.now(),
                principal=self.principal,
                activity="Update application",
                category="ApplicationManagement",
                operation_type="Update",
                targets=[TargetRef("Application", app.id, app.display_name, modified_properties=(change,))],
                details={"AppId": app.app_id},
            )
            app.required_strength = new
        return app
