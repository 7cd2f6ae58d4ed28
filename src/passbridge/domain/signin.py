"""Sign-in rules: the flow's states, what a proof is worth, and how long what it begins may last.

Pure: no I/O, time passed in. services/signin.py applies these to stored flows and sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from passbridge.domain.errors import DomainError

# After a one-time pass the user has this long to register a method (Entra's rule, GRAPH_TAP.md).
ONE_TIME_REGISTRATION_WINDOW = timedelta(minutes=10)


class FlowState(StrEnum):
    IDENTIFY = "identify"  # waiting for a username
    PROVE = "prove"  # username given, waiting for a proof (a pass today; passkeys next)
    DONE = "done"  # a session was created; the flow cannot be replayed


class Method(StrEnum):
    """Ways to prove who you are, as the flow offers and records them."""

    TEMPORARY_ACCESS_PASS = "temporaryAccessPass"


class Strength(StrEnum):
    """Entra's built-in authentication strengths; the value is the `acr` an ID token carries."""

    MFA = "mfa"
    PASSWORDLESS_MFA = "passwordless-mfa"
    PHISHING_RESISTANT_MFA = "phishing-resistant-mfa"


@dataclass(frozen=True)
class Proof:
    """What a satisfied method contributes to tokens: RFC 8176 `amr` values and the strength."""

    amr: tuple[str, ...]
    strength: Strength
    # Graph's authenticationDetails[].authenticationMethod wording.
    display_name: str


# A pass sign-in is multi-factor (Entra: it satisfies the built-in MFA strength, not passwordless or
# phishing-resistant). RFC 8176 has no value for a pass; "tap" is ours and "mfa" is the registered one.
PROOFS: dict[Method, Proof] = {
    Method.TEMPORARY_ACCESS_PASS: Proof(("tap", "mfa"), Strength.MFA, "Temporary Access Pass"),
}


class SignInFailed(DomainError):
    """The proof did not work. The message never says which part (username, pass, state) was wrong."""

    GENERIC = (
        "We couldn't sign you in with that username and Temporary Access Pass. Check both and try again, "
        "or ask your helpdesk for a new pass."
    )

    def __init__(self, reason: str, *, error_code: int = 50126) -> None:
        # `reason` is for the sign-in log only (an administrator's view); users see GENERIC.
        super().__init__(self.GENERIC)
        self.reason = reason
        self.error_code = error_code


class LockedOut(DomainError):
    """Too many failed attempts: refused without checking the proof, until the window passes."""

    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, int(retry_after.total_seconds() + 59) // 60)
        super().__init__(
            "Too many sign-in attempts. For your security, sign-in is paused; try again later "
            f"(in about {minutes} minute{'s' if minutes != 1 else ''})."
        )
        self.retry_after = retry_after


class FlowExpired(DomainError):
    """The sign-in flow is unknown, finished or too old; the person starts again."""

    def __init__(self) -> None:
        super().__init__("This sign-in has expired. Start again.")


class CsrfMismatch(DomainError):
    """A form post without the flow's CSRF token (or with another one)."""

    def __init__(self) -> None:
        super().__init__("This form has expired or was not sent by this site. Start again.")


def session_end(now: datetime, session_lifetime: timedelta, pass_end: datetime | None) -> datetime:
    """Everything a pass sign-in begins ends no later than the pass itself."""
    end = now + session_lifetime
    return min(end, pass_end) if pass_end is not None else end


def registration_deadline(now: datetime, *, one_time_pass: bool) -> datetime | None:
    return now + ONE_TIME_REGISTRATION_WINDOW if one_time_pass else None


@dataclass(frozen=True)
class LockoutRule:
    threshold: int
    ip_threshold: int
    window: timedelta


def lockout_remaining(
    rule: LockoutRule,
    *,
    user_failures: list[datetime],
    ip_failures: list[datetime],
    now: datetime,
) -> timedelta | None:
    """How long until another attempt is accepted, or None when one is accepted now.

    Failures are those within the window (newest last is not required). The wait lasts until the
    oldest counted failure leaves the window, which brings the count back below the threshold."""
    waits: list[timedelta] = []
    for failures, threshold in ((user_failures, rule.threshold), (ip_failures, rule.ip_threshold)):
        recent = sorted(t for t in failures if t > now - rule.window)
        if len(recent) >= threshold:
            # The count drops below the threshold when the (len - threshold + 1)-th oldest expires.
            releasing = recent[len(recent) - threshold]
            waits.append(releasing + rule.window - now)
    return max(waits) if waits else None
