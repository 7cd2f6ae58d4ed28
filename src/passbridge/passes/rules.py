"""Temporary Access Pass rules: generating a pass and deciding whether it is usable now."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from passbridge.domain.errors import InvalidInput
from passbridge.domain.text import unstorable_reason
from passbridge.passes.policy_rules import LENGTH_MAX, LENGTH_MIN, Purpose, TapPolicy, purpose_of

__all__ = ["Purpose", "purpose_of"]  # re-exported: callers name a pass's purpose from here

# Easy to read aloud over the phone and type on any keyboard layout: letters and digits only, without the
# look-alikes 0/O/o and 1/l/I/i. Symbols are hard to say ("hash", "at") and sit elsewhere on other
# layouts; the policy's length, not the alphabet, governs a pass's entropy (docs/graph-compat.md).
UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
LOWER = "abcdefghjkmnpqrstuvwxyz"
DIGITS = "23456789"
ALPHABET = UPPER + LOWER + DIGITS
# Only when the policy asks (TapPolicy.include_symbols): symbols on every keyboard layout's shifted digit
# row or main block that cannot be mistaken for each other.
SYMBOLS = "#%&+=?@"

# Sign-ins and set-ups an enrol or recover one-time pass allows before it is spent (passes/burn.py): a
# person who cancels a few ceremonies or whose browser crashes once is fine; a pass tried over and over
# is not.
BURN_ATTEMPTS = 10

# A start time this far in the past is treated as clock skew between the caller and us.
START_SKEW = timedelta(minutes=5)
# Graph documents no limit on how far ahead a pass may start (scripts do schedule far ahead), but its
# end, start + lifetime (at most 30 days), must stay inside Python's calendar: 9999-12-31 plus a
# lifetime overflowed. Starting before year 9999 leaves every time derived from the pass inside it.
START_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def alphabet(symbols: bool = False) -> str:
    return ALPHABET + SYMBOLS if symbols else ALPHABET


def generate_pass(length: int, *, symbols: bool = False) -> str:
    """A uniformly random pass holding at least one upper-case letter, lower-case letter and digit, drawn
    from letters and digits (and symbols when `symbols`).

    Rejection sampling keeps the choice uniform over all strings with that mix.
    """
    if not LENGTH_MIN <= length <= LENGTH_MAX:
        raise InvalidInput(f"pass length must be between {LENGTH_MIN} and {LENGTH_MAX}; got {length}.")
    chars = alphabet(symbols)
    while True:
        candidate = "".join(secrets.choice(chars) for _ in range(length))
        if (
            any(c in UPPER for c in candidate)
            and any(c in LOWER for c in candidate)
            and any(c in DIGITS for c in candidate)
        ):
            return candidate


def entropy_bits(length: int, *, symbols: bool = False) -> float:
    """Entropy of a generated pass: log2 of the number of strings `generate_pass` can return."""
    n, u, lo, d = len(alphabet(symbols)), len(UPPER), len(LOWER), len(DIGITS)
    # Inclusion-exclusion over the three classes that must appear.
    count = (
        n**length
        - (n - u) ** length
        - (n - lo) ** length
        - (n - d) ** length
        + (n - u - lo) ** length
        + (n - u - d) ** length
        + (n - lo - d) ** length
        - (n - u - lo - d) ** length
    )
    return math.log2(count)


class UsabilityReason(StrEnum):
    ENABLED_BY_POLICY = "EnabledByPolicy"
    DISABLED_BY_POLICY = "DisabledByPolicy"
    EXPIRED = "Expired"
    NOT_YET_VALID = "NotYetValid"
    ONE_TIME_USED = "OneTimeUsed"


@dataclass(frozen=True)
class PassState:
    """What usability depends on, as read from the store."""

    start: datetime
    lifetime_minutes: int
    is_usable_once: bool
    used_at: datetime | None
    purpose: Purpose = Purpose.SIGN_IN
    attempts: int = 0  # sign-ins and set-ups counted against a pass that burns on success
    attempt_limit: int = BURN_ATTEMPTS

    @property
    def burns_on_success(self) -> bool:
        """An enrol or recover one-time pass is used up by the first method registered with it, not by
        the sign-in (docs/purpose-bound-passes.md)."""
        return self.is_usable_once and self.purpose.bound

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.lifetime_minutes)


def usability(state: PassState, policy: TapPolicy, *, targeted: bool, now: datetime) -> UsabilityReason:
    """Why the pass is, or is not, usable at `now`. Decided afresh at every read and every use."""
    if not policy.enabled or not targeted:
        return UsabilityReason.DISABLED_BY_POLICY
    if policy.is_usable_once and not state.is_usable_once:
        # The policy now forces one-time passes: a reusable one issued earlier is blocked.
        return UsabilityReason.DISABLED_BY_POLICY
    if policy.enforced_purpose is not None and not state.purpose.at_least(Purpose(policy.enforced_purpose)):
        # The policy now binds passes to a purpose: a pass issued earlier for more is blocked.
        return UsabilityReason.DISABLED_BY_POLICY
    if state.is_usable_once and (
        state.used_at is not None or (state.burns_on_success and state.attempts >= state.attempt_limit)
    ):
        return UsabilityReason.ONE_TIME_USED
    if now >= state.end:
        return UsabilityReason.EXPIRED
    if now < state.start:
        return UsabilityReason.NOT_YET_VALID
    return UsabilityReason.ENABLED_BY_POLICY


@dataclass(frozen=True)
class PassRequest:
    """What a caller asked for; None means 'use the policy's choice'."""

    start: datetime | None = None
    lifetime_minutes: int | None = None
    is_usable_once: bool | None = None
    # Why the pass is issued (free text or a ticket id): the audit entry and the holder's notice show it.
    reason: str | None = None
    purpose: Purpose | None = None


@dataclass(frozen=True)
class PassTerms:
    start: datetime
    lifetime_minutes: int
    is_usable_once: bool
    length: int
    symbols: bool = False
    reason: str | None = None
    purpose: Purpose = Purpose.SIGN_IN


def decide_terms(request: PassRequest, policy: TapPolicy, *, now: datetime) -> PassTerms:
    """Apply the issuance rules to a request: defaults, bounds, one-time, start time."""
    if not policy.enabled:
        raise InvalidInput("The Temporary Access Pass policy is disabled; enable it before creating passes.")
    lifetime = policy.default_lifetime if request.lifetime_minutes is None else request.lifetime_minutes
    if not policy.minimum_lifetime <= lifetime <= policy.maximum_lifetime:
        raise InvalidInput(
            "Invalid LifetimeInMinutes specified. The valid range between "
            f"{policy.minimum_lifetime} and {policy.maximum_lifetime}."
        )
    if request.is_usable_once is False and policy.is_usable_once:
        raise InvalidInput("The policy requires one-time passes; isUsableOnce cannot be false.")
    once = policy.is_usable_once if request.is_usable_once is None else request.is_usable_once
    reason = issue_reason(request.reason)
    if reason is None and policy.require_reason:
        raise InvalidInput("The policy requires a reason for every pass: give a ticket id or a few words.")
    start = now if request.start is None else request.start
    if start < now - START_SKEW:
        raise InvalidInput("startDateTime must not be in the past.")
    if start >= START_LATEST:
        raise InvalidInput("startDateTime is out of range: a pass must start before the year 9999.")
    # A start within the skew allowance means "now" as the caller saw it.
    return PassTerms(
        start=max(start, now),
        lifetime_minutes=lifetime,
        is_usable_once=once,
        length=policy.default_length,
        symbols=policy.include_symbols,
        reason=reason,
        purpose=decide_purpose(request.purpose, policy),
    )


def decide_purpose(asked: Purpose | None, policy: TapPolicy) -> Purpose:
    """The purpose a new pass gets: what was asked, else what the policy enforces, else signIn."""
    enforced = Purpose(policy.enforced_purpose) if policy.enforced_purpose else None
    if asked is None:
        return enforced or Purpose.SIGN_IN
    if enforced is not None and not asked.at_least(enforced):
        raise InvalidInput(
            f"The policy binds every pass to the purpose '{enforced.value}' or narrower; "
            f"'{asked.value}' is not allowed."
        )
    return asked


REASON_MAX = 256


def issue_reason(text: str | None) -> str | None:
    """A reason as stored: trimmed, one line of at most REASON_MAX characters; blank is none."""
    if text is None or not text.strip():
        return None
    reason = text.strip()
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"The reason is too long: at most {REASON_MAX} characters.")
    refused = unstorable_reason(reason)
    if refused is None and any(ord(c) < 32 or ord(c) == 127 for c in reason):
        refused = "a line break or another control character"
    if refused is not None:
        raise InvalidInput(f"The reason must be one line of text; it contains {refused}.")
    return reason
