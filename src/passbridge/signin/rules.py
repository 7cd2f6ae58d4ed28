"""Sign-in rules: the flow's states, the methods, what a proof is worth, how long what it begins may
last, and the throttle's arithmetic.

Pure: no I/O, time passed in. flow.py, strategies.py, finish.py and throttle.py apply these to stored
flows, sessions and counters.
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
    PROVE = "prove"  # username given, waiting for a proof (a pass or a code; a passkey needs no name)
    DONE = "done"  # a session was created; the flow cannot be replayed


class Method(StrEnum):
    """Ways to prove who you are: the one enum of sign-in's method kinds, valued as the authentication
    methods policy and Graph name them (methods/strength.py's `Factor` is this enum)."""

    TEMPORARY_ACCESS_PASS = "temporaryAccessPass"
    PASSKEY = "fido2"
    AUTHENTICATOR_APP = "softwareOath"


# Graph's authenticationDetails[].authenticationMethod wording, for the sign-in log.
PASSKEY_LOG_NAME = {False: "Passkey (device-bound)", True: "Passkey (synced)"}
CODE_LOG_NAME = "OATH verification code"


def log_name(method: Method, *, synced: bool = False) -> str:
    """How the sign-in log names the method (a passkey by whether it is synced, i.e. backup-eligible)."""
    if method is Method.PASSKEY:
        return PASSKEY_LOG_NAME[synced]
    if method is Method.AUTHENTICATOR_APP:
        return CODE_LOG_NAME
    return PROOFS[method].display_name


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
# phishing-resistant). RFC 8176 has no value for a pass; "tap" is ours and "mfa" is the registered one. A
# sign-in's amr also says which kind of pass it was (methods/strength.py `pass_amr`, used by Pass.commit).
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
    """Too many failed attempts: refused without checking the proof, until the lockout ends (or, past
    the consecutive ceiling, `retry_after` None, until a passkey sign-in or a new pass)."""

    def __init__(self, retry_after: timedelta | None) -> None:
        if retry_after is None:
            super().__init__(
                "Too many sign-in attempts. For your security, sign-in with a pass or code is paused: "
                "sign in with a passkey, or ask your helpdesk for a new Temporary Access Pass."
            )
        else:
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


# --- throttling guesses (throttle.py keeps the counters) -----------------------------------
#
# A counter belongs to one key: a username as typed and normalised (known or not, so unknown names
# behave as real ones), a trusted device (a browser that signed in as that user before), a source
# address, or the account's consecutive failures for NIST SP 800-63B's ceiling. Every guess reserves
# an attempt on its keys before it is checked, so no more than a counter's threshold is ever checked.

# NIST SP 800-63B: no more than 100 consecutive failed attempts on one account. Only a success (a
# passkey, which is never throttled) or a new pass from an administrator opens the account again.
CONSECUTIVE_CEILING = 100


@dataclass(frozen=True)
class ThrottleRule:
    threshold: int  # attempts in a round; the last of them starts a lockout
    first_lockout: timedelta  # each further lockout in a row lasts twice the one before
    longest_lockout: timedelta = timedelta(hours=24)
    # Quiet this long after the last attempt (or the end of the lockout) and the counter starts afresh;
    # None: only a success resets it (the ceiling).
    forget_after: timedelta | None = timedelta(hours=24)

    def lockout(self, nth: int) -> timedelta:
        """How long the nth lockout in a row lasts."""
        length = self.first_lockout
        for _ in range(nth - 1):
            if length >= self.longest_lockout:
                break
            length *= 2
        return min(length, self.longest_lockout)


CEILING_RULE = ThrottleRule(CONSECUTIVE_CEILING, timedelta(0), forget_after=None)


@dataclass(frozen=True)
class Counter:
    """One key's state. `version` changes with every write: a reservation is written only over the
    version it was computed from (a compare-and-set), which holds across processes and databases."""

    attempts: int = 0  # reserved in this round (since the last lockout or success)
    lockouts: int = 0  # in a row
    locked_until: datetime | None = None
    last_at: datetime | None = None
    version: int = 0


def _quiet_since(counter: Counter) -> datetime | None:
    if counter.last_at is None:
        return counter.locked_until
    if counter.locked_until is None:
        return counter.last_at
    return max(counter.last_at, counter.locked_until)


def reserve(rule: ThrottleRule, counter: Counter, now: datetime) -> Counter | timedelta | None:
    """Reserve one attempt: the counter to write (the attempt may be checked), or how long until one
    is accepted (a timedelta), or None when only a success or an administrator can open it again."""
    if rule.forget_after is None and counter.lockouts > 0:
        return None
    if counter.locked_until is not None and now < counter.locked_until:
        return counter.locked_until - now
    quiet = _quiet_since(counter)
    if rule.forget_after is not None and quiet is not None and now - quiet >= rule.forget_after:
        counter = Counter(version=counter.version)
    attempts = counter.attempts + 1
    if attempts >= rule.threshold:
        # The attempt that reaches the threshold is still checked; the lockout starts after it.
        lockouts = counter.lockouts + 1
        until = None if rule.forget_after is None else now + rule.lockout(lockouts)
        return Counter(0, lockouts, until, now, counter.version + 1)
    return Counter(attempts, counter.lockouts, counter.locked_until, now, counter.version + 1)
