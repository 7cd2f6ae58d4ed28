"""Temporary Access Pass rules: generating a pass and deciding whether it is usable now."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from passbridge.domain.errors import InvalidInput
from passbridge.domain.text import unstorable_reason
from passbridge.passes.policy_rules import LENGTH_MAX, LENGTH_MIN, TapPolicy

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


class Purpose(StrEnum):
    """What a pass may be used for (a Passbridge extension, docs/purpose-bound-passes.md): `signIn` is
    Entra's pass; `enrol` opens a session that may only register or remove the holder's own methods;
    `recover` is `enrol` that also ends the holder's other sessions once a new method is registered."""

    SIGN_IN = "signIn"
    ENROL = "enrol"
    RECOVER = "recover"


def purpose_of(text: str | None) -> Purpose | None:
    """A purpose as a caller named it (any case); None when not given; InvalidInput when unknown."""
    if text is None:
        return None
    for purpose in Purpose:
        if purpose.value.lower() == text.strip().lower():
            return purpose
    raise InvalidInput(f"Invalid purpose '{text}': it must be one of {', '.join(p.value for p in Purpose)}.")


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
    if state.is_usable_once and state.used_at is not None:
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
        purpose=request.purpose or Purpose.SIGN_IN,
    )


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
