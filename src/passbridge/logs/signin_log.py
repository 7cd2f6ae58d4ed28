"""Writing and reading sign-in log entries (Graph's signIn resource). Each attempt, success or failure,
is one entry; never the pass or any other secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from passbridge.clock import iso_z
from passbridge.domain.errors import NotFound
from passbridge.ids import new_guid
from passbridge.logs import signin_log_queries as store
from passbridge.logs.audit import require_may_read
from passbridge.logs.queries import EntryKey
from passbridge.logs.rules import SignInFilter
from passbridge.services.context import Env, Principal
from passbridge.store.models import SignInLogEntry
from passbridge.store.tx import Tx

# The sign-in pages and "My apps" act as one first-party application, as Entra's My Apps portal does.
PORTAL_APP_ID = "2b5c6a8e-5f1d-4c3b-9a77-3d1e0f6c9b10"
PORTAL_APP_NAME = "Passbridge My Apps"

# Entra's error codes for the outcomes Passbridge reports (0 is success).
SUCCESS = 0
INVALID_CREDENTIALS = 50126
ACCOUNT_LOCKED = 50053
ACCOUNT_DISABLED = 50057


@dataclass(frozen=True)
class Attempt:
    """Who tried, from where, through which app, with which method, and how it ended."""

    now: datetime
    method: str  # Graph's authenticationMethod wording, e.g. "Temporary Access Pass"
    error_code: int
    failure_reason: str | None
    user_id: str | None = None
    user_principal_name: str | None = None
    user_display_name: str | None = None
    app_id: str | None = None
    app_display_name: str | None = None
    ip_address: str | None = None
    correlation_id: str | None = None
    multi_factor: bool = True


def record(tx: Tx, attempt: Attempt) -> str:
    """Write the attempt's entry in the caller's transaction; its id. Built as plain column values and
    inserted with one prebuilt statement: every sign-in writes one (bench/README.md, pass sign-ins)."""
    succeeded = attempt.error_code == SUCCESS
    entry_id = new_guid()
    store.add(
        tx,
        {
            "id": entry_id,
            "created_at": attempt.now,
            "user_id": attempt.user_id,
            "user_principal_name": attempt.user_principal_name,
            "user_display_name": attempt.user_display_name,
            "app_id": attempt.app_id or PORTAL_APP_ID,
            "app_display_name": attempt.app_display_name or PORTAL_APP_NAME,
            "ip_address": attempt.ip_address,
            "client_app_used": "Browser",
            "correlation_id": attempt.correlation_id or new_guid(),
            "is_interactive": True,
            "error_code": attempt.error_code,
            "failure_reason": None if succeeded else attempt.failure_reason,
            "authentication_details": [
                {
                    "authenticationStepDateTime": iso_z(attempt.now),
                    "authenticationMethod": attempt.method,
                    "authenticationMethodDetail": None,
                    "succeeded": succeeded,
                    "authenticationStepResultDetail": (
                        "Authentication succeeded" if succeeded else (attempt.failure_reason or "Failed")
                    ),
                    "authenticationStepRequirement": "Primary authentication",
                }
            ],
            "authentication_requirement": (
                "multiFactorAuthentication" if attempt.multi_factor else "singleFactorAuthentication"
            ),
        },
    )
    return entry_id


# --- reading the log --------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInPage:
    entries: list[SignInLogEntry]
    # Where the next page starts (this page's last entry's time and id); None when none follows.
    next_after: EntryKey | None

    @property
    def has_more(self) -> bool:
        return self.next_after is not None


@dataclass
class SignInLogService:
    """Reading the sign-in log: the same readers as the directory audit log (logs/audit.py)."""

    tx: Tx
    env: Env
    principal: Principal

    def search(
        self, wanted: SignInFilter, *, after: EntryKey | None, limit: int, oldest_first: bool = False
    ) -> SignInPage:
        require_may_read(self.principal)
        # One row more than asked tells whether another page exists without counting.
        rows = store.search(self.tx, wanted, after=after, limit=limit + 1, oldest_first=oldest_first)
        last = rows[limit - 1] if len(rows) > limit else None
        return SignInPage(rows[:limit], None if last is None else (last.created_at, last.id))

    def get(self, entry_id: str) -> SignInLogEntry:
        require_may_read(self.principal)
        entry = store.by_id(self.tx, entry_id)
        if entry is None:
            raise NotFound(f"No sign-in log entry with id '{entry_id}' exists.", kind="signIn")
        return entry
