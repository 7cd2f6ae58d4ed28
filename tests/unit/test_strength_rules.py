"""methods/strength.py: Entra's built-in authentication strengths over Passbridge's methods."""

from __future__ import annotations

import pytest

from passbridge.methods.strength import (
    SINGLE_FACTOR_ACR,
    Factor,
    acr_for,
    factors_of,
    meets,
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
