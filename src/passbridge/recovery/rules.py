"""Self-service recovery's pure rules: how long a request and its approval link live, how often anyone may
ask, who is asked to approve, and what a request's state is at a given moment. No I/O; the clock is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from passbridge.domain.errors import DomainError, InvalidInput
from passbridge.domain.text import unstorable_reason

# A request (and the manager's link, which is the request's) is good for a day: long enough for a manager
# in another time zone, short enough that a forgotten one does not wait for an attacker.
REQUEST_LIFETIME = timedelta(hours=24)
USERNAME_MAX = 256
# A link's token is token_urlsafe(32), 43 characters; anything much longer is no token of ours.
TOKEN_MAX = 64


@dataclass(frozen=True)
class Limit:
    """At most `requests` per `window` for one key (a fixed window, counted in the database)."""

    requests: int
    window: timedelta


# Per name as typed (known or not, so the limit says nothing about which names exist) and per source
# address. A person asks once or twice; a script walking names meets the source's limit first.
PER_NAME = Limit(3, timedelta(hours=1))
PER_SOURCE = Limit(10, timedelta(hours=1))
# Counters whose window began this long ago are stale whatever the limit, and may go.
LIMITS_KEPT = timedelta(days=1)


class State(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"  # never stored while it waits: an open request past its end (`state_at`)


class Route(StrEnum):
    """Who is asked: the manager by mail (and the helpdesk's queue), or the helpdesk's queue alone."""

    MANAGER = "manager"
    HELPDESK = "helpdesk"


class Via(StrEnum):
    """How a decision was made."""

    MANAGER = "manager"
    HELPDESK = "helpdesk"  # the admin portal
    OPERATOR = "operator"  # the CLI on the host


class RateLimited(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Too many recovery requests have come from here or for this name. Wait an hour and try again, "
            "or call your helpdesk."
        )


def check_username(typed: str) -> str:
    """The name as typed, trimmed, when it can be a name at all; InvalidInput otherwise. Whether an account
    has it is never said."""
    name = typed.strip()
    if not name:
        raise InvalidInput("Enter your username, such as ada@contoso.example.")
    if len(name) > USERNAME_MAX:
        raise InvalidInput("That username is too long.")
    if unstorable_reason(name) is not None or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput("That username contains characters no username has.")
    return name


def route(*, has_manager: bool, has_private_address: bool) -> tuple[Route, str | None]:
    """Who approves, and (for the helpdesk alone) why the manager is not asked."""
    if not has_private_address:
        return Route.HELPDESK, "HR gave no private mail address for them, so a pass cannot be mailed to them"
    if not has_manager:
        return Route.HELPDESK, "they have no manager with a mail address in the directory"
    return Route.MANAGER, None


def state_at(stored: str, expires_at: datetime, now: datetime) -> State:
    found = State(stored)
    if found is State.OPEN and expires_at <= now:
        return State.EXPIRED
    return found


def masked(address: str) -> str:
    """A mail address as a notice may show it: enough to recognise, too little to use (a***@example.org)."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
