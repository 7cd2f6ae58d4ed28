"""Dual control for issuing passes, the pure rules (docs/dual-control.md): when a pass needs a second
administrator's approval, the settings' bounds, and a request's state at a given moment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from passbridge.domain.errors import Conflict, InvalidInput
from passbridge.domain.text import unstorable_reason

EXPIRY_MIN, EXPIRY_MAX = 5, 10_080  # a pending request lasts 5 minutes to 7 days
COLLECT_MIN, COLLECT_MAX = 5, 10_080  # an approved one waits as long for its requester
THRESHOLD_MIN, THRESHOLD_MAX = 1, 43_200  # the longest pass Graph allows is 30 days
NOTE_MAX = 256


class State(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    ISSUED = "issued"
    CANCELLED = "cancelled"


OPEN = frozenset({State.PENDING, State.APPROVED})


@dataclass(frozen=True)
class ApprovalSettings:
    enabled: bool = False
    for_role_holders: bool = True
    lifetime_threshold_minutes: int | None = None
    request_expiry_minutes: int = 1440
    collect_within_minutes: int = 480

    def with_changes(self, **changes: object) -> ApprovalSettings:
        updated = replace(self, **changes)  # type: ignore[arg-type]
        updated.check()
        return updated

    def check(self) -> None:
        threshold = self.lifetime_threshold_minutes
        if threshold is not None and not THRESHOLD_MIN <= threshold <= THRESHOLD_MAX:
            raise InvalidInput(
                f"lifetimeThresholdMinutes must be between {THRESHOLD_MIN} and {THRESHOLD_MAX}, or null."
            )
        if not EXPIRY_MIN <= self.request_expiry_minutes <= EXPIRY_MAX:
            raise InvalidInput(f"requestExpiryMinutes must be between {EXPIRY_MIN} and {EXPIRY_MAX}.")
        if not COLLECT_MIN <= self.collect_within_minutes <= COLLECT_MAX:
            raise InvalidInput(f"collectWithinMinutes must be between {COLLECT_MIN} and {COLLECT_MAX}.")
        if self.enabled and not self.for_role_holders and threshold is None:
            raise InvalidInput(
                "Dual control that applies to nobody: ask for approval for role holders, set a lifetime "
                "threshold, or switch it off."
            )


def why_needed(settings: ApprovalSettings, *, holds_role: bool, lifetime_minutes: int) -> str | None:
    """Why a pass on these terms for this user needs a second administrator, or None when it does not."""
    if not settings.enabled:
        return None
    reasons = []
    if settings.for_role_holders and holds_role:
        reasons.append("the user holds an administrator role")
    threshold = settings.lifetime_threshold_minutes
    if threshold is not None and lifetime_minutes > threshold:
        reasons.append(f"its lifetime ({lifetime_minutes} minutes) is above the {threshold}-minute threshold")
    return " and ".join(reasons) or None


@dataclass(frozen=True)
class Timeline:
    """What a request's state depends on, as stored."""

    state: State
    expires_at: datetime
    collect_by: datetime | None


def state_at(timeline: Timeline, now: datetime) -> State:
    """The state at `now`: a pending request past its expiry, or an approved one not collected in time, has
    expired whether or not anyone has written so yet."""
    if timeline.state is State.PENDING and now >= timeline.expires_at:
        return State.EXPIRED
    if timeline.state is State.APPROVED and timeline.collect_by is not None and now >= timeline.collect_by:
        return State.EXPIRED
    return timeline.state


class RequestClosed(Conflict):
    """The request is no longer in a state that allows the action (Graph: 409)."""

    def __init__(self, message: str, state: State) -> None:
        super().__init__(message)
        self.state = state


def closed(action: str, state: State) -> RequestClosed:
    if state is State.EXPIRED:
        return RequestClosed(f"This request has expired; it cannot be {action}. Ask for a new pass.", state)
    return RequestClosed(f"This request is {state.value}; it cannot be {action}.", state)


def decision_note(text: str | None) -> str | None:
    """A note as stored: trimmed, one line; blank is none."""
    if text is None or not text.strip():
        return None
    note = text.strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"The note is too long: at most {NOTE_MAX} characters.")
    refused = unstorable_reason(note)
    if refused is None and any(ord(c) < 32 or ord(c) == 127 for c in note):
        refused = "a line break or another control character"
    if refused is not None:
        raise InvalidInput(f"The note must be one line of text; it contains {refused}.")
    return note


def state_of(text: str | None) -> State | None:
    """A state filter as a caller named it; None when not given."""
    if text is None or not text.strip():
        return None
    for state in State:
        if state.value == text.strip().lower():
            return state
    raise InvalidInput(f"Invalid state '{text}': it must be one of {', '.join(s.value for s in State)}.")


@dataclass(frozen=True)
class RequestView:
    """A request as every edge shows it, read inside its unit of work (no ORM row leaves it)."""

    id: str
    state: State
    requester_kind: str
    requester_id: str | None
    requester_name: str
    user_id: str
    user_principal_name: str
    user_display_name: str
    start_at: datetime | None
    lifetime_minutes: int
    is_usable_once: bool
    reason: str | None
    purpose: str
    why: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    collect_by: datetime | None
    approver_id: str | None
    approver_name: str | None
    decision_note: str | None
    issued_at: datetime | None
    pass_id: str | None
