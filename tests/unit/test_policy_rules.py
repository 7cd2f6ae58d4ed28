"""The Temporary Access Pass policy: defaults, validation, PATCH-style changes and targeting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passbridge.domain.errors import InvalidInput
from passbridge.passes.policy_rules import (
    ALL_USERS,
    LENGTH_MAX,
    LENGTH_MIN,
    LIFETIME_MAX,
    LIFETIME_MIN,
    PolicyState,
    TapPolicy,
    Target,
)

GROUP_A = "11111111-1111-1111-1111-111111111111"
GROUP_B = "22222222-2222-2222-2222-222222222222"
USER_X = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
USER_Y = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"


def _refused(policy: TapPolicy, known_group_ids: list[str] | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        policy.validate(known_group_ids)
    return caught.value.message


# --- defaults -----------------------------------------------------------------------------------


def test_api_limits_are_graphs():
    assert (LIFETIME_MIN, LIFETIME_MAX, LENGTH_MIN, LENGTH_MAX) == (10, 43200, 8, 48)


def test_new_policy_has_entras_documented_defaults():
    policy = TapPolicy()
    assert policy.minimum_lifetime == 60
    assert policy.maximum_lifetime == 480
    assert policy.default_lifetime == 60
    assert policy.default_length == 8
    assert policy.is_usable_once is False


def test_new_policy_is_enabled_for_all_users_and_excludes_nobody():
    policy = TapPolicy()
    assert policy.state is PolicyState.ENABLED
    assert policy.enabled is True
    assert policy.include_targets == (Target("group", ALL_USERS, False),)
    assert policy.exclude_targets == ()


def test_default_policy_is_valid():
    TapPolicy().validate()
    TapPolicy().validate(known_group_ids=[])


def test_disabled_state_reads_as_not_enabled():
    assert TapPolicy(state=PolicyState.DISABLED).enabled is False


def test_state_values_are_graphs_lower_case_words():
    assert [s.value for s in PolicyState] == ["enabled", "disabled"]


# --- lifetime bounds ----------------------------------------------------------------------------


def test_lifetimes_at_the_api_limits_are_accepted():
    TapPolicy(minimum_lifetime=10, default_lifetime=10, maximum_lifetime=43200).validate()
    TapPolicy(minimum_lifetime=10, default_lifetime=43200, maximum_lifetime=43200).validate()


def test_minimum_lifetime_below_ten_is_refused():
    message = _refused(TapPolicy(minimum_lifetime=9))
    assert message == "minimumLifetimeInMinutes must be between 10 and 43200; got 9."


def test_minimum_lifetime_above_thirty_days_is_refused():
    policy = TapPolicy(minimum_lifetime=43201, default_lifetime=43201, maximum_lifetime=43201)
    assert _refused(policy) == "minimumLifetimeInMinutes must be between 10 and 43200; got 43201."


def test_maximum_lifetime_above_thirty_days_is_refused():
    message = _refused(TapPolicy(maximum_lifetime=43201))
    assert message == "maximumLifetimeInMinutes must be between 10 and 43200; got 43201."


def test_maximum_lifetime_below_ten_is_refused():
    policy = TapPolicy(minimum_lifetime=10, default_lifetime=10, maximum_lifetime=9)
    assert _refused(policy) == "maximumLifetimeInMinutes must be between 10 and 43200; got 9."


@pytest.mark.parametrize("value", [0, 9, 43201])
def test_default_lifetime_outside_api_limits_is_refused(value):
    policy = TapPolicy(minimum_lifetime=10, default_lifetime=value, maximum_lifetime=43200)
    assert _refused(policy) == f"defaultLifetimeInMinutes must be between 10 and 43200; got {value}."


def test_minimum_above_maximum_is_refused():
    policy = TapPolicy(minimum_lifetime=481, default_lifetime=481, maximum_lifetime=480)
    assert _refused(policy) == (
        "minimumLifetimeInMinutes (481) must not exceed maximumLifetimeInMinutes (480)."
    )


def test_minimum_equal_to_maximum_is_accepted():
    TapPolicy(minimum_lifetime=120, default_lifetime=120, maximum_lifetime=120).validate()


def test_default_lifetime_below_minimum_is_refused():
    policy = TapPolicy(minimum_lifetime=60, default_lifetime=59, maximum_lifetime=480)
    assert _refused(policy) == (
        "defaultLifetimeInMinutes (59) must lie between the minimum (60) and the maximum (480)."
    )


def test_default_lifetime_above_maximum_is_refused():
    policy = TapPolicy(minimum_lifetime=60, default_lifetime=481, maximum_lifetime=480)
    assert _refused(policy) == (
        "defaultLifetimeInMinutes (481) must lie between the minimum (60) and the maximum (480)."
    )


@pytest.mark.parametrize("default", [60, 61, 479, 480])
def test_default_lifetime_on_or_within_bounds_is_accepted(default):
    TapPolicy(minimum_lifetime=60, default_lifetime=default, maximum_lifetime=480).validate()


@given(
    minimum=st.integers(min_value=-100, max_value=44000),
    default=st.integers(min_value=-100, max_value=44000),
    maximum=st.integers(min_value=-100, max_value=44000),
)
def test_lifetimes_valid_exactly_when_ordered_and_within_api_limits(minimum, default, maximum):
    policy = TapPolicy(minimum_lifetime=minimum, default_lifetime=default, maximum_lifetime=maximum)
    expected_valid = all(10 <= v <= 43200 for v in (minimum, default, maximum)) and (
        minimum <= default <= maximum
    )
    if expected_valid:
        policy.validate()
    else:
        with pytest.raises(InvalidInput):
            policy.validate()


# --- length -------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [8, 9, 24, 47, 48])
def test_default_length_within_eight_to_forty_eight_is_accepted(length):
    TapPolicy(default_length=length).validate()


@pytest.mark.parametrize("length", [0, 7, 49, 100])
def test_default_length_outside_eight_to_forty_eight_is_refused(length):
    message = _refused(TapPolicy(default_length=length))
    assert message == f"defaultLength must be between 8 and 48; got {length}."


# --- targets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target_type", ["device", "Group", "USER", "", "servicePrincipal"])
def test_include_target_with_unknown_target_type_is_refused(target_type):
    policy = TapPolicy(include_targets=(Target(target_type, GROUP_A),))
    assert _refused(policy) == f"includeTargets: targetType must be 'group' or 'user'; got '{target_type}'."


def test_exclude_target_with_unknown_target_type_is_refused():
    policy = TapPolicy(exclude_targets=(Target("device", GROUP_A),))
    assert _refused(policy) == "excludeTargets: targetType must be 'group' or 'user'; got 'device'."


def test_group_and_user_targets_are_accepted():
    TapPolicy(
        include_targets=(Target("group", GROUP_A), Target("user", USER_X)),
        exclude_targets=(Target("group", GROUP_B), Target("user", USER_Y)),
    ).validate()


def test_duplicate_include_target_is_refused():
    policy = TapPolicy(include_targets=(Target("group", GROUP_A), Target("group", GROUP_A)))
    assert _refused(policy) == f"includeTargets: target '{GROUP_A}' is listed twice."


def test_duplicate_exclude_target_is_refused():
    policy = TapPolicy(exclude_targets=(Target("user", USER_X), Target("user", USER_X)))
    assert _refused(policy) == f"excludeTargets: target '{USER_X}' is listed twice."


def test_duplicate_all_users_include_is_refused():
    policy = TapPolicy(include_targets=(Target("group", ALL_USERS), Target("group", ALL_USERS)))
    assert _refused(policy) == "includeTargets: target 'all_users' is listed twice."


def test_same_id_may_be_both_included_and_excluded():
    TapPolicy(
        include_targets=(Target("group", GROUP_A),), exclude_targets=(Target("group", GROUP_A),)
    ).validate()


def test_unknown_included_group_is_refused_when_known_groups_given():
    policy = TapPolicy(include_targets=(Target("group", GROUP_A),))
    message = _refused(policy, known_group_ids=[GROUP_B])
    assert message == f"includeTargets: no group with id '{GROUP_A}' exists."


def test_unknown_excluded_group_is_refused_when_known_groups_given():
    policy = TapPolicy(exclude_targets=(Target("group", GROUP_B),))
    message = _refused(policy, known_group_ids=[GROUP_A])
    assert message == f"excludeTargets: no group with id '{GROUP_B}' exists."


def test_unknown_group_is_refused_when_no_groups_exist():
    policy = TapPolicy(include_targets=(Target("group", GROUP_A),))
    assert _refused(policy, known_group_ids=[]) == f"includeTargets: no group with id '{GROUP_A}' exists."


def test_known_groups_are_accepted_in_both_lists():
    TapPolicy(
        include_targets=(Target("group", GROUP_A),), exclude_targets=(Target("group", GROUP_B),)
    ).validate(known_group_ids=[GROUP_A, GROUP_B])


def test_known_groups_given_as_a_one_shot_iterator_serve_both_lists():
    TapPolicy(
        include_targets=(Target("group", GROUP_A),), exclude_targets=(Target("group", GROUP_B),)
    ).validate(known_group_ids=iter([GROUP_A, GROUP_B]))


def test_group_ids_are_not_checked_when_known_groups_not_given():
    TapPolicy(include_targets=(Target("group", GROUP_A),)).validate()
    TapPolicy(include_targets=(Target("group", GROUP_A),)).validate(None)


def test_all_users_needs_no_known_group():
    TapPolicy(include_targets=(Target("group", ALL_USERS),)).validate(known_group_ids=[])


def test_user_targets_are_not_checked_against_group_ids():
    policy = TapPolicy(include_targets=(Target("user", USER_X),), exclude_targets=(Target("user", USER_Y),))
    policy.validate(known_group_ids=[GROUP_A])


def test_all_users_cannot_be_excluded():
    policy = TapPolicy(exclude_targets=(Target("group", ALL_USERS),))
    assert _refused(policy) == "excludeTargets: 'all_users' can only be included, not excluded."


def test_include_targets_are_checked_before_exclude_targets():
    policy = TapPolicy(
        include_targets=(Target("device", GROUP_A),), exclude_targets=(Target("group", ALL_USERS),)
    )
    assert _refused(policy).startswith("includeTargets:")


def test_empty_include_targets_are_valid():
    TapPolicy(include_targets=()).validate()


# --- with_changes -------------------------------------------------------------------------------


def test_with_changes_keeps_every_omitted_value():
    base = TapPolicy(
        state=PolicyState.ENABLED,
        default_lifetime=120,
        default_length=12,
        minimum_lifetime=30,
        maximum_lifetime=600,
        is_usable_once=True,
        include_targets=(Target("group", GROUP_A),),
        exclude_targets=(Target("user", USER_X),),
    )
    changed = base.with_changes(default_length=20)
    assert changed == TapPolicy(
        state=PolicyState.ENABLED,
        default_lifetime=120,
        default_length=20,
        minimum_lifetime=30,
        maximum_lifetime=600,
        is_usable_once=True,
        include_targets=(Target("group", GROUP_A),),
        exclude_targets=(Target("user", USER_X),),
    )


def test_with_changes_returns_a_copy_and_leaves_the_original_alone():
    base = TapPolicy()
    changed = base.with_changes(state=PolicyState.DISABLED, is_usable_once=True)
    assert changed is not base
    assert base == TapPolicy()
    assert changed.state is PolicyState.DISABLED
    assert changed.is_usable_once is True


def test_with_no_changes_equals_the_original():
    assert TapPolicy().with_changes() == TapPolicy()


def test_with_changes_refuses_an_invalid_result():
    with pytest.raises(InvalidInput) as caught:
        TapPolicy().with_changes(default_length=49)
    assert caught.value.message == "defaultLength must be between 8 and 48; got 49."


def test_with_changes_validates_against_the_kept_values():
    # Raising only the minimum above the kept maximum (480) is refused as a whole.
    with pytest.raises(InvalidInput) as caught:
        TapPolicy().with_changes(minimum_lifetime=500)
    assert caught.value.message == (
        "minimumLifetimeInMinutes (500) must not exceed maximumLifetimeInMinutes (480)."
    )


def test_with_changes_accepts_several_changes_that_are_only_valid_together():
    changed = TapPolicy().with_changes(minimum_lifetime=500, default_lifetime=500, maximum_lifetime=600)
    assert (changed.minimum_lifetime, changed.default_lifetime, changed.maximum_lifetime) == (500, 500, 600)


def test_with_changes_refuses_excluding_all_users():
    with pytest.raises(InvalidInput):
        TapPolicy().with_changes(exclude_targets=(Target("group", ALL_USERS),))


def test_with_changes_refuses_an_unknown_field():
    with pytest.raises(TypeError):
        TapPolicy().with_changes(colour="blue")


# --- targets() ----------------------------------------------------------------------------------


def test_all_users_targets_any_user_in_no_group():
    assert TapPolicy().targets(USER_X, []) is True


def test_all_users_targets_a_user_in_groups():
    assert TapPolicy().targets(USER_X, [GROUP_A, GROUP_B]) is True


def test_included_group_targets_its_members():
    policy = TapPolicy(include_targets=(Target("group", GROUP_A),))
    assert policy.targets(USER_X, [GROUP_B, GROUP_A]) is True


def test_included_group_does_not_target_non_members():
    policy = TapPolicy(include_targets=(Target("group", GROUP_A),))
    assert policy.targets(USER_X, [GROUP_B]) is False
    assert policy.targets(USER_X, []) is False


def test_included_user_id_targets_that_user():
    policy = TapPolicy(include_targets=(Target("user", USER_X),))
    assert policy.targets(USER_X, []) is True


def test_included_user_id_does_not_target_other_users():
    policy = TapPolicy(include_targets=(Target("user", USER_X),))
    assert policy.targets(USER_Y, []) is False


def test_no_include_targets_targets_nobody():
    assert TapPolicy(include_targets=()).targets(USER_X, [GROUP_A]) is False


def test_excluded_group_wins_over_all_users():
    policy = TapPolicy(exclude_targets=(Target("group", GROUP_A),))
    assert policy.targets(USER_X, [GROUP_A]) is False
    assert policy.targets(USER_Y, [GROUP_B]) is True


def test_excluded_user_wins_over_all_users():
    policy = TapPolicy(exclude_targets=(Target("user", USER_X),))
    assert policy.targets(USER_X, []) is False
    assert policy.targets(USER_Y, []) is True


def test_excluded_group_wins_over_included_user_id():
    policy = TapPolicy(include_targets=(Target("user", USER_X),), exclude_targets=(Target("group", GROUP_A),))
    assert policy.targets(USER_X, [GROUP_A]) is False


def test_excluded_user_wins_over_included_group():
    policy = TapPolicy(include_targets=(Target("group", GROUP_A),), exclude_targets=(Target("user", USER_X),))
    assert policy.targets(USER_X, [GROUP_A]) is False
    assert policy.targets(USER_Y, [GROUP_A]) is True


def test_exclusion_wins_when_same_group_is_included_and_excluded():
    policy = TapPolicy(
        include_targets=(Target("group", GROUP_A),), exclude_targets=(Target("group", GROUP_A),)
    )
    assert policy.targets(USER_X, [GROUP_A]) is False


def test_targets_accepts_any_iterable_of_group_ids():
    policy = TapPolicy(include_targets=(Target("group", GROUP_A),))
    assert policy.targets(USER_X, (g for g in [GROUP_A])) is True


def test_targeting_ignores_policy_state():
    # State is judged by usability(); targets() answers only who the policy names.
    assert TapPolicy(state=PolicyState.DISABLED).targets(USER_X, []) is True


@given(
    groups=st.sets(st.sampled_from([GROUP_A, GROUP_B, "g3"])),
    excluded=st.sets(st.sampled_from([GROUP_A, GROUP_B, "g3", USER_X])),
)
def test_user_in_any_excluded_target_is_never_targeted(groups, excluded):
    policy = TapPolicy(
        exclude_targets=tuple(Target("user" if t == USER_X else "group", t) for t in sorted(excluded))
    )
    expected = not (excluded & (groups | {USER_X}))
    assert policy.targets(USER_X, groups) is expected
