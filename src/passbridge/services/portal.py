"""What the signed-in pages ("My apps", security info, set-up) read: the tenant's name, the apps a
user can open, and the user's own authentication methods.

Each call takes an open session, so a page reads everything it shows in one read-only unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from passbridge.directory import queries as directory_store
from passbridge.domain.errors import InvalidInput
from passbridge.methods import oath_queries as oath_store
from passbridge.methods import passkey_queries as passkey_store
from passbridge.methods.oath_queries import OathRecord
from passbridge.methods.passkey_queries import PasskeyRecord
from passbridge.methods.service import MethodsService
from passbridge.passes.service import PassView
from passbridge.services.context import Env, Principal
from passbridge.signin.return_to import allowed_return_to
from passbridge.signin.sessions import SessionView
from passbridge.store.tx import Tx

DEFAULT_TENANT_NAME = "Passbridge"
# Graph's methodUsabilityReason for a pass that will never sign anyone in again.
SPENT_REASONS = frozenset({"OneTimeUsed", "Expired"})
# A user reading their own methods holds exactly this delegated scope, as Entra's My Sign-ins does.
OWN_METHODS_SCOPE = "UserAuthenticationMethod.Read"


@dataclass(frozen=True)
class AppLink:
    display_name: str
    url: str  # the origin of the app's first redirect URI: its home, not its callback


@dataclass(frozen=True)
class PassSummary:
    """A pass as its holder sees it: never the value."""

    created_at: datetime
    starts_at: datetime
    ends_at: datetime
    is_usable_once: bool
    is_usable: bool
    reason: str  # Graph's methodUsabilityReason


def tenant_name(tx: Tx) -> str:
    tenant = directory_store.tenant(tx)
    return tenant.display_name if tenant is not None else DEFAULT_TENANT_NAME


def _origin(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # Registration admits only http(s) today; anything else would be a callback, not a place to open.
        return None
    return f"{parts.scheme}://{parts.netloc}/"


def app_links(tx: Tx) -> list[AppLink]:
    """Registered applications a person can open, by name: each at its home page, or else the origin of its
    first web redirect URI."""
    links = []
    for app in directory_store.applications(tx):
        uris = app.redirect_uris or []
        home = app.home_page_url or (_origin(uris[0]) if uris else None)
        if home is not None:
            links.append(AppLink(app.display_name, home))
    return links


def own_passes(tx: Tx, env: Env, view: SessionView) -> list[PassSummary]:
    """The signed-in user's methods, read through the same rules as Graph's /me/authentication/methods."""
    me = Principal(
        kind="user",
        id=view.user_id,
        display_name=view.display_name,
        user_principal_name=view.user_principal_name,
        scopes=frozenset({OWN_METHODS_SCOPE}),
    )
    summaries = []
    for method in MethodsService(tx, env, me).list(view.user_id):
        if isinstance(method, PassView):
            row = method.row
            summaries.append(
                PassSummary(
                    created_at=row.created_at,
                    starts_at=row.start_at,
                    ends_at=method.end,
                    is_usable_once=row.is_usable_once,
                    is_usable=method.is_usable,
                    reason=method.reason.value,
                )
            )
    return summaries


def checked_return_to(tx: Tx, value: str | None) -> str | None:
    """`value` if a signed-in page may send the browser there (the sign-in rule), else None."""
    try:
        return allowed_return_to(tx, value)
    except InvalidInput:
        return None


@dataclass(frozen=True)
class OwnMethods:
    """Everything security info lists: never a pass value, a seed or a key."""

    passes: list[PassSummary]
    passkeys: list[PasskeyRecord]
    apps: list[OathRecord]

    @property
    def strong_count(self) -> int:
        return len(self.passkeys) + len(self.apps)

    @property
    def live_passes(self) -> list[PassSummary]:
        """Passes that are or may become a way to sign in (usable, not yet valid, or off by a policy that
        may change), listed among the methods."""
        return [p for p in self.passes if p.reason not in SPENT_REASONS]

    @property
    def spent_passes(self) -> list[PassSummary]:
        """Used one-time passes and expired ones: Graph still lists them (isUsable false); the page shows
        them apart, as history, so they never read as a way to sign in."""
        return [p for p in self.passes if p.reason in SPENT_REASONS]

    @property
    def fallback_pass(self) -> PassSummary | None:
        """The pass that still signs its holder in (now, or from its start) once the last passkey or app
        is removed; None when there is none and only a new pass from the helpdesk would."""
        return next((p for p in self.passes if p.is_usable or p.reason == "NotYetValid"), None)


def own_methods(tx: Tx, env: Env, view: SessionView) -> OwnMethods:
    return OwnMethods(
        own_passes(tx, env, view),
        passkey_store.of_user(tx, view.user_id),
        oath_store.of_user(tx, view.user_id),
    )
