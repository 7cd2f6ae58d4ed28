"""methods/strength.py: Entra's built-in authentication strengths over Passbridge's methods."""

from __future__ import annotations

import pytest

from passbridge.methods.strength import (
    BUILT_IN,
    BUILT_IN_BY_STRENGTH,
    SINGLE_FACTOR_ACR,
    BadCombination,
    Factor,
    Mode,
    acr_for,
    built_in,
    factors_of,
    meets,
    modes_of,
    parse_combination,
    pass_amr,
    passkey_amr,
    satisfies,
)
from passbridge.signin.rules import Strength

PASS, PASSKEY, APP = Factor.TEMPORARY_ACCESS_PASS, Factor.PASSKEY, Factor.AUTHENTICATOR_APP


@pytest.mark.parametrize(
    ("factors", "mfa", "passwordless", "phishing_resistant"),
    [
        ({PASS}, True, False, False),
        ({PASSKEY}, True, True, True),
        ({APP}, False, False, False),
        ({APP, PASS}, True, False, False),
        (set(), False, False, False),
    ],
)
def test_each_method_satisfies_exactly_the_strengths_entra_allows_it(
    factors: set[Factor], mfa: bool, passwordless: bool, phishing_resistant: bool
) -> None:
    given = frozenset(factors)
    assert satisfies(given, Strength.MFA) is mfa
    assert satisfies(given, Strength.PASSWORDLESS_MFA) is passwordless
    assert satisfies(given, Strength.PHISHING_RESISTANT_MFA) is phishing_resistant


def test_acr_names_the_strongest_strength_reached() -> None:
    assert acr_for(frozenset({PASSKEY})) == "phishing-resistant-mfa"
    assert acr_for(frozenset({PASS})) == "mfa"
    assert acr_for(frozenset({APP})) == SINGLE_FACTOR_ACR


def test_a_device_bound_passkey_is_a_hardware_key_and_a_synced_one_a_software_key() -> None:
    assert passkey_amr(backup_eligible=False) == ("hwk", "mfa")
    assert passkey_amr(backup_eligible=True) == ("swk", "mfa")
    assert factors_of(["swk", "mfa"]) == frozenset({PASSKEY})
    assert factors_of(["tap", "mfa"]) == frozenset({PASS})
    assert factors_of(["otp"]) == frozenset({APP})


def test_a_recorded_acr_meets_every_weaker_strength_and_no_stronger_one() -> None:
    assert meets("phishing-resistant-mfa", Strength.MFA)
    assert meets("mfa", Strength.MFA)
    assert not meets("mfa", Strength.PASSWORDLESS_MFA)
    assert not meets(SINGLE_FACTOR_ACR, Strength.MFA)
    assert not meets("unknown", Strength.MFA)


def test_a_pass_amr_keeps_tap_and_says_one_time_or_multi_use() -> None:
    assert pass_amr(one_time=True) == ("tap", "tap-one-time", "mfa")
    assert pass_amr(one_time=False) == ("tap", "tap-multi-use", "mfa")
    assert modes_of(pass_amr(one_time=True)) == frozenset({Mode.TAP_ONE_TIME})
    assert modes_of(pass_amr(one_time=False)) == frozenset({Mode.TAP_MULTI_USE})
    assert factors_of(pass_amr(one_time=True)) == frozenset({PASS})
    assert acr_for(factors_of(pass_amr(one_time=True))) == "mfa"


def test_a_tap_amr_without_its_kind_counts_only_as_multi_use() -> None:
    assert modes_of(["tap", "mfa"]) == frozenset({Mode.TAP_MULTI_USE})
    assert modes_of(["hwk", "mfa"]) == modes_of(["swk", "mfa"]) == frozenset({Mode.FIDO2})
    assert modes_of(["otp"]) == frozenset({Mode.SOFTWARE_OATH})


def test_built_in_policies_match_graphs_ids_names_and_combinations_restricted_to_passbridges_modes() -> None:
    assert [
        (p.id, p.display_name, p.allowed_combinations, p.requirements_satisfied) for p in BUILT_IN.values()
    ] == [
        (
            "00000000-0000-0000-0000-000000000002",
            "Multifactor authentication",
            ["fido2", "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse"],
            "mfa",
        ),
        ("00000000-0000-0000-0000-000000000003", "Passwordless MFA", ["fido2"], "mfa"),
        ("00000000-0000-0000-0000-000000000004", "Phishing resistant MFA", ["fido2"], "mfa"),
    ]
    assert all(p.policy_type == "builtIn" for p in BUILT_IN.values())
    assert built_in("mfa") is BUILT_IN_BY_STRENGTH[Strength.MFA]
    assert (
        built_in("00000000-0000-0000-0000-000000000004")
        is BUILT_IN_BY_STRENGTH[Strength.PHISHING_RESISTANT_MFA]
    )
    assert built_in("urn:unknown") is None


@pytest.mark.parametrize(
    "amr", [("tap", "tap-one-time", "mfa"), ("tap", "tap-multi-use", "mfa"), ("hwk", "mfa"), ("otp",)]
)
def test_the_built_in_policies_judge_each_sign_in_as_the_older_acr_rules_do(amr: tuple[str, ...]) -> None:
    reached = factors_of(amr)
    for strength, policy in BUILT_IN_BY_STRENGTH.items():
        assert policy.satisfied_by(modes_of(amr)) is satisfies(reached, strength)


def test_an_authenticator_app_alone_is_a_single_factor_combination() -> None:
    assert parse_combination("softwareOath") == frozenset({Mode.SOFTWARE_OATH})
    assert parse_combination(" temporaryAccessPassOneTime ") == frozenset({Mode.TAP_ONE_TIME})


@pytest.mark.parametrize(
    "text", ["", "sms", "password, softwareOath", "fido2,", "fido2, temporaryAccessPassOneTime"]
)
def test_combinations_name_exactly_one_mode_passbridge_has(text: str) -> None:
    with pytest.raises(BadCombination):
        parse_combination(text)
