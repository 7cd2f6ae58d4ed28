"""The outbox's rules, pure: states, when to try again, when to give up, what an error may say."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


# The first retry waits a minute, each next one twice as long, never more than an hour.
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
# A claim lasts this long: a sender that died mid-send leaves its mail due again after it.
LEASE = timedelta(minutes=5)
# What an error may keep in the row (the column's width).
ERROR_MAX = 512


def backoff(attempts: int, *, jitter: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4... minutes up to MAX_DELAY, times
    `jitter` (0.5 to 1.5; random in use) so senders that failed together do not retry together."""
    if not 0.5 <= jitter <= 1.5:
        raise ValueError("jitter must be between 0.5 and 1.5")
    exponent = min(max(attempts - 1, 0), 20)
    delay = min(FIRST_DELAY * (1 << exponent), MAX_DELAY)
    return delay * jitter


def random_jitter() -> float:
    return random.uniform(0.5, 1.5)  # noqa: S311  (spreading retries, not a secret)


@dataclass(frozen=True)
class Limits:
    max_attempts: int
    max_age: timedelta


@dataclass(frozen=True)
class Outcome:
    state: State
    next_attempt_at: datetime


def after_failure(
    *, attempts: int, created_at: datetime, now: datetime, limits: Limits, permanent: bool, jitter: float
) -> Outcome:
    """Where a message goes after its `attempts`-th attempt failed: back to pending after the back-off,
    or failed when the server refused it for good, it has had its attempts, or the next one would come
    after it is too old to be worth sending."""
    if permanent or attempts >= limits.max_attempts:
        return Outcome(State.FAILED, now)
    retry_at = now + backoff(attempts, jitter=jitter)
    if retry_at - created_at > limits.max_age:
        return Outcome(State.FAILED, now)
    return Outcome(State.PENDING, retry_at)


def error_text(message: str, *secrets: str | None) -> str:
    """An error as the row keeps it: one line, at most ERROR_MAX characters, without any of `secrets`
    (the SMTP password, should a server or a library echo it)."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    line = " ".join(message.split())
    return line if len(line) <= ERROR_MAX else line[: ERROR_MAX - 1] + "…"
