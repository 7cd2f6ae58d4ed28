"""What every service call needs: the environment it runs in and who is asking."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from passbridge.clock import Clock, SystemClock
from passbridge.config import Settings
from passbridge.directory.rules import Role
from passbridge.ids import new_guid
from passbridge.security.secrets import Argon2Params, SecretKeeper, read_pepper
from passbridge.store.db import Database
from passbridge.tokens.cache import TokenCache


@dataclass
class Env:
    """Process-wide collaborators, built once at start-up."""

    settings: Settings
    db: Database
    clock: Clock
    keeper: SecretKeeper
    # What the token service remembers (keys, tenant id, verified tokens), aged on `clock`: its own per
    # environment, so two environments in one process share nothing.
    token_cache: TokenCache = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.token_cache = TokenCache(self.clock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Env:
        """Raises PepperMissing when the store has never been initialised here."""
        pepper = read_pepper(settings.pepper_file, settings.pepper)
        return cls(
            settings,
            Database(settings.effective_database_url),
            clock or SystemClock(),
            keeper_for(settings, pepper),
        )


def keeper_for(settings: Settings, pepper: bytes) -> SecretKeeper:
    params = Argon2Params(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
    return SecretKeeper(pepper, params)


PrincipalKind = Literal["operator", "application", "user"]


@dataclass(frozen=True)
class Principal:
    """Who is calling. An application acts with application permissions (`app_permissions`);
    a user acts with delegated scopes (`scopes`) limited by their directory roles (`roles`). A user's
    `amr` and `auth_time` are their access token's: how and when they signed in, which decides whether
    they may change their own methods (methods/access.py)."""

    kind: PrincipalKind
    id: str | None
    display_name: str
    user_principal_name: str | None = None
    app_id: str | None = None
    app_permissions: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    roles: frozenset[Role] = frozenset()
    amr: tuple[str, ...] = ()
    auth_time: datetime | None = None
    ip_address: str | None = None
    correlation_id: str = field(default_factory=new_guid)

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    def initiated_by(self) -> dict[str, Any]:
        """Graph's `initiatedBy` for audit entries."""
        if self.kind == "user":
            return {
                "app": None,
                "user": {
                    "id": self.id,
                    "displayName": self.display_name,
                    "userPrincipalName": self.user_principal_name,
                    "ipAddress": self.ip_address,
                },
            }
        return {
            "app": {
                "appId": self.app_id,
                "displayName": self.display_name,
                "servicePrincipalId": self.id,
                "servicePrincipalName": self.display_name,
            },
            "user": None,
        }


def token_amr(value: object) -> tuple[str, ...]:
    """A token's `amr` claim as a Principal holds it; anything but a list of strings proves nothing."""
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def token_auth_time(value: object) -> datetime | None:
    """A token's `auth_time` (epoch seconds) as an aware datetime; None when absent or unreadable."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def operator(display_name: str = "Passbridge CLI") -> Principal:
    """The operator at the host's shell: holds the data directory, so holds every right."""
    return Principal(kind="operator", id=None, display_name=display_name)
