"""The throttle's arithmetic (signin/rules.py `reserve`), pure, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from passbridge.signin.rules import CEILING_RULE, CONSECUTIVE_CEILING, Counter, ThrottleRule, reserve

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
RULE = ThrottleRule(threshold=10, first_lockout=timedelta(minutes=15))


def spend(rule: ThrottleRule, counter: Counter, now: datetime, times: int) -> Counter:
    for _ in range(times):
        outcome = reserve(rule, counter, now)
        assert isinstance(outcome, Counter), outcome
        counter = outcome
    return counter


def test_the_attempt_that_reaches_the_threshold_is_checked_and_the_next_waits_the_first_lockout() -> None:
    counter = spend(RULE, Counter(), T0, 9)
    assert (counter.attempts, counter.lockouts, counter.locked_until) == (9, 0, None)
    tenth = reserve(RULE, counter, T0)
    assert isinstance(tenth, Counter)
    assert (tenth.attempts, tenth.lockouts, tenth.locked_until) == (0, 1, T0 + timedelta(minutes=15))
    assert reserve(RULE, tenth, T0) == timedelta(minutes=15)
    assert reserve(RULE, tenth, T0 + timedelta(minutes=14, seconds=59)) == timedelta(seconds=1)


def test_every_write_moves_the_version_so_a_compare_and_set_sees_any_other_writer() -> None:
    counter = Counter(version=7)
    versions = []
    for _ in range(12):
        outcome = reserve(RULE, counter, T0 + timedelta(hours=len(versions)))
        if isinstance(outcome, Counter):
            versions.append(outcome.version)
            counter = outcome
    assert versions == list(range(8, 8 + len(versions)))


def test_lockouts_in_a_row_double_up_to_the_longest() -> None:
    counter, now = Counter(), T0
    lengths = []
    for _ in range(10):
        counter = spend(RULE, counter, now, RULE.threshold)
        assert counter.locked_until is not None
        lengths.append(counter.locked_until - now)
        now = counter.locked_until  # the attacker comes back the moment each lockout ends
    minutes = [int(length.total_seconds() // 60) for length in lengths]
    assert minutes == [15, 30, 60, 120, 240, 480, 960, 1440, 1440, 1440]


def test_a_day_quiet_after_the_lockout_ends_starts_the_counter_afresh() -> None:
    counter = spend(RULE, Counter(), T0, RULE.threshold)  # locked until T0 + 15 min
    end = T0 + timedelta(minutes=15)
    almost = reserve(RULE, counter, end + timedelta(hours=24) - timedelta(seconds=1))
    assert isinstance(almost, Counter) and almost.lockouts == 1  # still remembered
    fresh = reserve(RULE, counter, end + timedelta(hours=24))
    assert isinstance(fresh, Counter) and (fresh.attempts, fresh.lockouts) == (1, 0)


def test_failures_spread_over_hours_still_lock_when_never_a_day_apart() -> None:
    counter, now = Counter(), T0
    for _ in range(RULE.threshold - 1):
        counter = spend(RULE, counter, now, 1)
        now += timedelta(hours=23)
    last = reserve(RULE, counter, now)
    assert isinstance(last, Counter) and last.lockouts == 1


def test_the_ceiling_allows_exactly_100_consecutive_and_then_nothing_ever() -> None:
    counter = spend(CEILING_RULE, Counter(), T0, CONSECUTIVE_CEILING)
    assert counter.lockouts == 1
    for later in (timedelta(0), timedelta(days=1), timedelta(days=400)):
        assert reserve(CEILING_RULE, counter, T0 + later) is None


def test_the_ceiling_counts_across_days_without_forgetting() -> None:
    counter, now = Counter(), T0
    for _ in range(CONSECUTIVE_CEILING - 1):
        counter = spend(CEILING_RULE, counter, now, 1)
        now += timedelta(days=3)
    assert counter.attempts == CONSECUTIVE_CEILING - 1


@pytest.mark.parametrize("nth", [1, 2, 33, 64, 10_000])
def test_lockout_length_never_overflows(nth: int) -> None:
    rule = ThrottleRule(threshold=1, first_lockout=timedelta(days=1), longest_lockout=timedelta(days=2))
    assert timedelta(days=1) <= rule.lockout(nth) <= timedelta(days=2)
