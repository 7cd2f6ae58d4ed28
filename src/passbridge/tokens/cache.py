"""What the token service remembers between requests, held by one `Env` (services/context.py).

Each environment has its own, so two environments in one process (tests, a CLI beside a server) never
share keys, tenant ids or verified tokens, and every age is measured on the environment's injected clock:
a test's ManualClock decides when a snapshot or a sighting is stale (tokens/service.py says what each
cache is for and how long it is trusted).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import KeySet

from passbridge.clock import Clock
from passbridge.security import keys as jose


@dataclass(frozen=True)
class CachedKey:
    kid: str
    public_jwk: dict[str, Any]
    sealed: str
    activates_at: datetime
    retired_at: datetime | None

    def published_at(self, now: datetime) -> bool:
        return self.retired_at is None or self.retired_at > now


@dataclass(frozen=True)
class SeenApp:
    """An application as a token's principal names it, and when the store last had it."""

    id: str
    app_id: str
    display_name: str
    seen_at: datetime


class TokenCache:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.tenant_id: str | None = None
        self.keys: tuple[CachedKey, ...] = ()
        self.keys_at: datetime | None = None
        self.private: dict[str, jose.Signer] = {}
        self.key_sets: dict[tuple[str, ...], KeySet] = {}
        # token -> (kid, claims) of tokens whose signature a published key checked.
        self.verified: dict[str, tuple[str, dict[str, Any]]] = {}
        # appId -> the application, when it was last read from the store.
        self.apps: dict[str, SeenApp] = {}

    def fresh(self, since: datetime | None, seconds: float) -> bool:
        """Whether something from `since` is younger than `seconds` by the clock. A clock that went
        back (a system clock stepped, a test moving time) makes everything stale, never everlasting."""
        if since is None:
            return False
        age = self.clock.now() - since
        return timedelta(0) <= age < timedelta(seconds=seconds)

    def set_keys(self, keys: tuple[CachedKey, ...]) -> None:
        with self.lock:
            self.keys, self.keys_at = keys, self.clock.now()

    def clear(self) -> None:
        """Forget everything, as a new process would."""
        with self.lock:
            self.tenant_id, self.keys, self.keys_at = None, (), None
            self.private, self.key_sets, self.verified, self.apps = {}, {}, {}, {}
