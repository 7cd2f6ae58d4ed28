"""Temporary Access Pass rules: pass generation, usability at a given time, and issuance terms."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passbridge.domain.errors import InvalidInput
from passbridge.passes.policy_rules import PolicyState, TapPolicy, Target
from passbridge.passes.rules import (
    ALPHABET,
    DIGITS,
    LOWER,
    START_LATEST,
    START_SKEW,
    UPPER,
    PassRequest,
    PassState,
    PassTerms,
    UsabilityReason,
    decide_terms,
    entropy_bits,
    generate_pass,
    usability,
)

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
LOOK_ALIKES = "0Oo1lIi"
GRAPH_BOUNDS_MESSAGE = "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."
TICK = timedelta(microseconds=1)


# --- the alphabet -------------------------------------------------------------------------------


def test_alphabet_is_letters_and_digits_only_so_a_pass_reads_aloud_without_symbols():
    assert ALPHABET == UPPER + LOWER + DIGITS
    assert ALPHABET.isascii() and ALPHABET.isalnum()


def test_alphabet_has_no_repeated_characters():
    assert len(set(ALPHABET)) == len(ALPHABET) == 55


def test_character_classes_are_disjoint():
    classes = [set(UPPER), set(LOWER), set(DIGITS)]
    for left, right in itertools.combinations(classes, 2):
        assert left.isdisjoint(right)


def test_character_classes_hold_only_their_kind():
    assert all(c.isascii() and c.isupper() for c in UPPER)
    assert all(c.isascii() and c.islower() for c in LOWER)
    assert all(c.isdigit() for c in DIGITS)


def test_alphabet_excludes_every_look_alike():
    assert set(ALPHABET).isdisjoint(LOOK_ALIKES)


def test_alphabet_keeps_every_unambiguous_letter_and_digit():
    ascii_upper = {chr(c) for c in range(ord("A"), ord("Z") + 1)}
    ascii_lower = {chr(c) for c in range(ord("a"), ord("z") + 1)}
    assert set(UPPER) == ascii_upper - set(LOOK_ALIKES)
    assert set(LOWER) == ascii_lower - set(LOOK_ALIKES)
    assert set(DIGITS) == set("0123456789") - set(LOOK_ALIKES)


# --- generate_pass ------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [8, 9, 16, 47, 48])
def test_generated_pass_has_exactly_the_requested_length(length):
    assert len(generate_pass(length)) == length


@given(st.integers(min_value=8, max_value=48))
@settings(max_examples=200)
def test_every_accepted_length_yields_a_pass_of_that_length_from_the_alphabet(length):
    value = generate_pass(length)
    assert len(value) == length
    assert set(value) <= set(ALPHABET)


@given(st.integers(min_value=8, max_value=48))
@settings(max_examples=200)
def test_generated_pass_always_holds_an_upper_a_lower_and_a_digit(length):
    value = generate_pass(length)
    assert any(c in UPPER for c in value)
    assert any(c in LOWER for c in value)
    assert any(c in DIGITS for c in value)


def test_shortest_passes_always_hold_all_three_required_classes():
    # At length 8 a pure draw lacks some class about a quarter of the time; rejection must retry.
    for _ in range(2000):
        value = generate_pass(8)
        assert set(value) & set(UPPER)
        assert set(value) & set(LOWER)
        assert set(value) & set(DIGITS)


def test_generated_passes_never_contain_a_look_alike():
    for _ in range(500):
        assert set(generate_pass(48)).isdisjoint(LOOK_ALIKES)


def test_every_alphabet_character_is_reachable_including_symbols():
    seen: set[str] = set()
    for _ in range(2000):
        seen.update(generate_pass(48))
    assert seen == set(ALPHABET)


def test_generated_passes_are_not_repeated():
    passes = {generate_pass(8) for _ in range(1000)}
    assert len(passes) == 1000


@pytest.mark.parametrize("length", [-1, 0, 1, 7])
def test_pass_shorter_than_eight_is_refused(length):
    with pytest.raises(InvalidInput) as caught:
        generate_pass(length)
    assert caught.value.message == f"pass length must be between 8 and 48; got {length}."


@pytest.mark.parametrize("length", [49, 50, 1000])
def test_pass_longer_than_forty_eight_is_refused(length):
    with pytest.raises(InvalidInput) as caught:
        generate_pass(length)
    assert caught.value.message == f"pass length must be between 8 and 48; got {length}."


# --- entropy_bits -------------------------------------------------------------------------------


def _brute_force_count(length: int) -> int:
    """Count strings holding an upper, a lower and a digit by enumerating class patterns."""
    classes = {"U": len(UPPER), "L": len(LOWER), "D": len(DIGITS)}
    total = 0
    for pattern in itertools.product(classes, repeat=length):
        if {"U", "L", "D"} <= set(pattern):
            total += math.prod(classes[c] for c in pattern)
    return total


@pytest.mark.parametrize("length", [3, 4, 5, 6, 8])
def test_entropy_counts_exactly_the_strings_generate_pass_can_return(length):
    assert entropy_bits(length) == pytest.approx(math.log2(_brute_force_count(length)), abs=1e-9)


def test_entropy_of_three_characters_is_one_of_each_required_class_in_any_order():
    assert entropy_bits(3) == pytest.approx(math.log2(6 * len(UPPER) * len(LOWER) * len(DIGITS)), abs=1e-9)


def test_eight_character_pass_carries_more_than_45_bits():
    assert 45.6 < entropy_bits(8) < 45.8


def test_entropy_is_below_an_unconstrained_draw_of_the_same_length():
    for length in range(8, 49):
        assert entropy_bits(length) < length * math.log2(len(ALPHABET))


def test_entropy_strictly_increases_with_length():
    values = [entropy_bits(length) for length in range(8, 49)]
    assert all(later > earlier for earlier, later in itertools.pairwise(values))


def test_each_extra_character_adds_nearly_log2_of_the_alphabet():
    per_char = math.log2(len(ALPHABET))
    for length in range(8, 48):
        gained = entropy_bits(length + 1) - entropy_bits(length)
        assert per_char < gained < per_char + 0.2


# --- usability ----------------------------------------------------------------------------------


START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LIFETIME = 60
END = START + timedelta(minutes=LIFETIME)
DURING = START + timedelta(minutes=30)


def _state(*, once: bool = False, used_at: datetime | None = None, lifetime: int = LIFETIME) -> PassState:
    return PassState(start=START, lifetime_minutes=lifetime, is_usable_once=once, used_at=used_at)


ENABLED = TapPolicy()
DISABLED = TapPolicy(state=PolicyState.DISABLED)
FORCES_ONE_TIME = TapPolicy(is_usable_once=True)


def test_disabled_fixture_policy_is_really_disabled():
    assert DISABLED.enabled is False
    assert ENABLED.enabled is True


def test_pass_end_is_start_plus_lifetime():
    assert _state(lifetime=90).end == datetime(2026, 1, 1, 13, 30, tzinfo=UTC)


def test_reason_values_are_graphs_pascal_case_names():
    assert [r.value for r in UsabilityReason] == [
        "EnabledByPolicy",
        "DisabledByPolicy",
        "Expired",
        "NotYetValid",
        "OneTimeUsed",
    ]


def test_every_usability_reason_is_reachable():
    reached = {
        usability(_state(), ENABLED, targeted=True, now=DURING),
        usability(_state(), DISABLED, targeted=True, now=DURING),
        usability(_state(), ENABLED, targeted=True, now=END),
        usability(_state(), ENABLED, targeted=True, now=START - TICK),
        usability(_state(once=True, used_at=DURING), ENABLED, targeted=True, now=DURING),
    }
    assert reached == set(UsabilityReason)


def test_pass_within_its_window_under_an_enabled_targeting_policy_is_usable():
    assert usability(_state(), ENABLED, targeted=True, now=DURING) is UsabilityReason.ENABLED_BY_POLICY


def test_disabled_policy_disables_an_otherwise_usable_pass():
    assert usability(_state(), DISABLED, targeted=True, now=DURING) is UsabilityReason.DISABLED_BY_POLICY


def test_untargeted_user_pass_is_disabled_by_policy():
    assert usability(_state(), ENABLED, targeted=False, now=DURING) is UsabilityReason.DISABLED_BY_POLICY


@pytest.mark.parametrize(
    ("state", "now"),
    [
        (_state(), END + timedelta(days=1)),
        (_state(), START - timedelta(days=1)),
        (_state(once=True, used_at=DURING), DURING),
    ],
    ids=["expired", "not-yet-valid", "one-time-used"],
)
@pytest.mark.parametrize(
    ("policy", "targeted"), [(DISABLED, True), (ENABLED, False)], ids=["disabled", "untargeted"]
)
def test_policy_disablement_takes_precedence_over_every_time_or_use_reason(state, now, policy, targeted):
    assert usability(state, policy, targeted=targeted, now=now) is UsabilityReason.DISABLED_BY_POLICY


def test_reusable_pass_blocked_when_policy_now_forces_one_time():
    reason = usability(_state(once=False), FORCES_ONE_TIME, targeted=True, now=DURING)
    assert reason is UsabilityReason.DISABLED_BY_POLICY


def test_policy_forcing_one_time_blocks_reusable_pass_before_expiry_is_considered():
    reason = usability(_state(once=False), FORCES_ONE_TIME, targeted=True, now=END + timedelta(hours=1))
    assert reason is UsabilityReason.DISABLED_BY_POLICY


def test_one_time_pass_stays_usable_when_policy_forces_one_time():
    reason = usability(_state(once=True), FORCES_ONE_TIME, targeted=True, now=DURING)
    assert reason is UsabilityReason.ENABLED_BY_POLICY


def test_used_one_time_pass_is_one_time_used():
    reason = usability(_state(once=True, used_at=START), ENABLED, targeted=True, now=DURING)
    assert reason is UsabilityReason.ONE_TIME_USED


def test_used_one_time_pass_reports_one_time_used_rather_than_expired():
    reason = usability(_state(once=True, used_at=START), ENABLED, targeted=True, now=END + timedelta(days=2))
    assert reason is UsabilityReason.ONE_TIME_USED


def test_used_one_time_pass_reports_one_time_used_under_a_policy_forcing_one_time():
    reason = usability(_state(once=True, used_at=START), FORCES_ONE_TIME, targeted=True, now=DURING)
    assert reason is UsabilityReason.ONE_TIME_USED


def test_reusable_pass_stays_usable_after_being_used():
    reason = usability(_state(once=False, used_at=START), ENABLED, targeted=True, now=DURING)
    assert reason is UsabilityReason.ENABLED_BY_POLICY


def test_unused_one_time_pass_is_usable_within_its_window():
    reason = usability(_state(once=True, used_at=None), ENABLED, targeted=True, now=DURING)
    assert reason is UsabilityReason.ENABLED_BY_POLICY


def test_pass_is_expired_exactly_at_start_plus_lifetime():
    assert usability(_state(), ENABLED, targeted=True, now=END) is UsabilityReason.EXPIRED


def test_pass_is_still_usable_one_microsecond_before_its_end():
    assert usability(_state(), ENABLED, targeted=True, now=END - TICK) is UsabilityReason.ENABLED_BY_POLICY


def test_pass_is_expired_long_after_its_end():
    reason = usability(_state(), ENABLED, targeted=True, now=END + timedelta(days=30))
    assert reason is UsabilityReason.EXPIRED


def test_pass_is_usable_exactly_at_its_start():
    assert usability(_state(), ENABLED, targeted=True, now=START) is UsabilityReason.ENABLED_BY_POLICY


def test_pass_is_not_yet_valid_one_microsecond_before_its_start():
    assert usability(_state(), ENABLED, targeted=True, now=START - TICK) is UsabilityReason.NOT_YET_VALID


def test_unused_one_time_pass_before_its_start_is_not_yet_valid():
    reason = usability(_state(once=True), ENABLED, targeted=True, now=START - timedelta(hours=1))
    assert reason is UsabilityReason.NOT_YET_VALID


def test_usability_is_decided_at_each_call_from_the_given_time():
    state = _state()
    reasons = [
        usability(state, ENABLED, targeted=True, now=when)
        for when in (START - timedelta(minutes=1), START, END - timedelta(minutes=1), END)
    ]
    assert reasons == [
        UsabilityReason.NOT_YET_VALID,
        UsabilityReason.ENABLED_BY_POLICY,
        UsabilityReason.ENABLED_BY_POLICY,
        UsabilityReason.EXPIRED,
    ]


@given(
    offset=st.integers(min_value=-10 * 24 * 3600, max_value=40 * 24 * 3600),
    lifetime=st.integers(min_value=10, max_value=43200),
)
def test_time_reason_follows_the_half_open_window_from_start_to_end(offset, lifetime):
    state = _state(lifetime=lifetime)
    now = START + timedelta(seconds=offset)
    reason = usability(state, ENABLED, targeted=True, now=now)
    if offset < 0:
        assert reason is UsabilityReason.NOT_YET_VALID
    elif offset >= lifetime * 60:
        assert reason is UsabilityReason.EXPIRED
    else:
        assert reason is UsabilityReason.ENABLED_BY_POLICY


def test_usability_uses_targeting_flag_not_the_policy_targets():
    # The caller resolves targeting (policy.targets); usability trusts the flag it is given.
    policy = TapPolicy(include_targets=(Target("group", "some-group"),))
    assert usability(_state(), policy, targeted=True, now=DURING) is UsabilityReason.ENABLED_BY_POLICY


# --- decide_terms -------------------------------------------------------------------------------


def test_empty_request_takes_every_policy_default_and_starts_now():
    terms = decide_terms(PassRequest(), TapPolicy(), now=NOW)
    assert terms == PassTerms(start=NOW, lifetime_minutes=60, is_usable_once=False, length=8)


def test_policy_default_lifetime_applied_when_request_omits_it():
    policy = TapPolicy(default_lifetime=240)
    assert decide_terms(PassRequest(), policy, now=NOW).lifetime_minutes == 240


def test_requested_lifetime_within_bounds_is_kept():
    assert decide_terms(PassRequest(lifetime_minutes=300), TapPolicy(), now=NOW).lifetime_minutes == 300


@pytest.mark.parametrize("lifetime", [60, 480])
def test_lifetime_at_policy_bounds_is_accepted(lifetime):
    terms = decide_terms(PassRequest(lifetime_minutes=lifetime), TapPolicy(), now=NOW)
    assert terms.lifetime_minutes == lifetime


@pytest.mark.parametrize("lifetime", [-1, 0, 10, 59, 481, 43200, 43201])
def test_lifetime_outside_policy_bounds_is_refused_with_graphs_message(lifetime):
    with pytest.raises(InvalidInput) as caught:
        decide_terms(PassRequest(lifetime_minutes=lifetime), TapPolicy(), now=NOW)
    assert caught.value.message == GRAPH_BOUNDS_MESSAGE
    assert str(caught.value) == GRAPH_BOUNDS_MESSAGE


def test_lifetime_bounds_message_names_the_policys_own_bounds():
    policy = TapPolicy(minimum_lifetime=10, maximum_lifetime=43200, default_lifetime=60)
    with pytest.raises(InvalidInput) as caught:
        decide_terms(PassRequest(lifetime_minutes=9), policy, now=NOW)
    assert caught.value.message == (
        "Invalid LifetimeInMinutes specified. The valid range between 10 and 43200."
    )


def test_lifetime_bounds_follow_the_policy_not_the_api_limits():
    policy = TapPolicy(minimum_lifetime=10, maximum_lifetime=43200, default_lifetime=60)
    assert decide_terms(PassRequest(lifetime_minutes=10), policy, now=NOW).lifetime_minutes == 10
    assert decide_terms(PassRequest(lifetime_minutes=43200), policy, now=NOW).lifetime_minutes == 43200


def test_reusable_pass_refused_when_policy_forces_one_time():
    with pytest.raises(InvalidInput) as caught:
        decide_terms(PassRequest(is_usable_once=False), TapPolicy(is_usable_once=True), now=NOW)
    assert caught.value.message == "The policy requires one-time passes; isUsableOnce cannot be false."


def test_omitted_is_usable_once_becomes_one_time_when_policy_forces_it():
    assert decide_terms(PassRequest(), TapPolicy(is_usable_once=True), now=NOW).is_usable_once is True


def test_omitted_is_usable_once_becomes_reusable_when_policy_lets_each_pass_choose():
    assert decide_terms(PassRequest(), TapPolicy(is_usable_once=False), now=NOW).is_usable_once is False


def test_one_time_pass_may_be_requested_when_policy_allows_reusable():
    terms = decide_terms(PassRequest(is_usable_once=True), TapPolicy(is_usable_once=False), now=NOW)
    assert terms.is_usable_once is True


def test_one_time_pass_may_be_requested_when_policy_forces_one_time():
    terms = decide_terms(PassRequest(is_usable_once=True), TapPolicy(is_usable_once=True), now=NOW)
    assert terms.is_usable_once is True


def test_reusable_pass_may_be_requested_when_policy_allows_it():
    terms = decide_terms(PassRequest(is_usable_once=False), TapPolicy(is_usable_once=False), now=NOW)
    assert terms.is_usable_once is False


def test_creation_refused_while_policy_disabled():
    with pytest.raises(InvalidInput) as caught:
        decide_terms(PassRequest(), DISABLED, now=NOW)
    assert caught.value.message == (
        "The Temporary Access Pass policy is disabled; enable it before creating passes."
    )


def test_disabled_policy_is_reported_before_a_bad_lifetime():
    with pytest.raises(InvalidInput) as caught:
        decide_terms(PassRequest(lifetime_minutes=5), DISABLED, now=NOW)
    assert caught.value.message.startswith("The Temporary Access Pass policy is disabled")


def test_start_more_than_five_minutes_in_the_past_is_refused():
    with pytest.raises(InvalidInput) as caught:
        decide_terms(PassRequest(start=NOW - START_SKEW - TICK), TapPolicy(), now=NOW)
    assert caught.value.message == "startDateTime must not be in the past."


def test_start_long_in_the_past_is_refused():
    with pytest.raises(InvalidInput):
        decide_terms(PassRequest(start=NOW - timedelta(days=1)), TapPolicy(), now=NOW)


@pytest.mark.parametrize("lifetime", [None, 60, 480])
def test_a_start_in_the_calendars_last_year_is_refused_before_its_end_overflows(lifetime):
    with pytest.raises(InvalidInput, match="startDateTime is out of range"):
        decide_terms(
            PassRequest(start=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), lifetime_minutes=lifetime),
            TapPolicy(),
            now=NOW,
        )
    with pytest.raises(InvalidInput, match="startDateTime is out of range"):
        decide_terms(PassRequest(start=START_LATEST), TapPolicy(), now=NOW)


def test_the_latest_start_still_has_room_for_the_longest_pass():
    policy = TapPolicy(maximum_lifetime=43200, default_lifetime=43200)
    terms = decide_terms(PassRequest(start=START_LATEST - TICK), policy, now=NOW)
    ends = PassState(terms.start, terms.lifetime_minutes, is_usable_once=False, used_at=None).end
    assert ends.year == 9999


def test_skew_allowance_is_five_minutes():
    assert timedelta(minutes=5) == START_SKEW


@pytest.mark.parametrize(
    "behind", [timedelta(minutes=5), timedelta(minutes=4, seconds=59), timedelta(seconds=1), TICK]
)
def test_start_within_clock_skew_is_clamped_to_now(behind):
    terms = decide_terms(PassRequest(start=NOW - behind), TapPolicy(), now=NOW)
    assert terms.start == NOW


def test_start_exactly_now_is_kept():
    assert decide_terms(PassRequest(start=NOW), TapPolicy(), now=NOW).start == NOW


@pytest.mark.parametrize("ahead", [TICK, timedelta(minutes=1), timedelta(days=3), timedelta(days=365)])
def test_future_start_is_kept_as_requested(ahead):
    assert decide_terms(PassRequest(start=NOW + ahead), TapPolicy(), now=NOW).start == NOW + ahead


def test_start_in_another_timezone_is_compared_as_an_instant():
    other = datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    terms = decide_terms(PassRequest(start=other), TapPolicy(), now=NOW)
    assert terms.start == datetime(2026, 1, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("length", [8, 12, 48])
def test_pass_length_is_the_policy_default_length(length):
    assert decide_terms(PassRequest(), TapPolicy(default_length=length), now=NOW).length == length


def test_full_request_is_honoured_when_every_value_is_allowed():
    start = NOW + timedelta(hours=2)
    policy = TapPolicy(default_lifetime=90, default_length=16, minimum_lifetime=30, maximum_lifetime=600)
    terms = decide_terms(PassRequest(start=start, lifetime_minutes=600, is_usable_once=True), policy, now=NOW)
    assert terms == PassTerms(start=start, lifetime_minutes=600, is_usable_once=True, length=16)


# --- symbols, when the policy asks ----------------------------------------------------------------


def test_passes_hold_symbols_only_when_the_policy_asks():
    from passbridge.passes.policy_rules import TapPolicy
    from passbridge.passes.rules import SYMBOLS, alphabet, decide_terms

    assert set(alphabet(symbols=True)) == set(ALPHABET) | set(SYMBOLS)
    drawn = "".join(generate_pass(48, symbols=True) for _ in range(50))
    assert set(drawn) & set(SYMBOLS)  # 2,400 characters without one: about 2^-300
    assert not set("".join(generate_pass(48) for _ in range(50))) & set(SYMBOLS)
    now = datetime(2026, 12, 6, tzinfo=UTC)
    assert decide_terms(PassRequest(), TapPolicy(include_symbols=True), now=now).symbols
    assert not decide_terms(PassRequest(), TapPolicy(), now=now).symbols


def test_symbols_add_entropy_per_character():
    assert 46.9 < entropy_bits(8, symbols=True) < 47.0
    assert entropy_bits(16, symbols=True) > entropy_bits(16)
