"""The passkey and authenticator-app configurations as pure rules: defaults, validation, targeting."""

from __future__ import annotations

import pytest

from passbridge.domain.errors import InvalidInput
from passbridge.methods.aaguids import model_of
from passbridge.methods.policy_rules import (
    FIDO2,
    SOFTWARE_OATH,
    Fido2Policy,
    KeyRestrictions,
    SoftwareOathPolicy,
    default_policy,
)
from passbridge.passes.policy_rules import ALL_USERS, PolicyState, Target, is_targeted, needs_group_ids

USER, GROUP, OTHER = "u-1", "g-1", "g-2"


def test_defaults_enable_both_methods_for_all_users() -> None:
    for config_id in (FIDO2, SOFTWARE_OATH):
        policy = default_policy(config_id)
        assert policy.enabled and policy.include_targets == (Target("group", ALL_USERS),)
        assert policy.allows(USER, ())
    fido2 = default_policy(FIDO2)
    assert isinstance(fido2, Fido2Policy)
    assert (fido2.is_self_service_registration_allowed, fido2.is_attestation_enforced) == (True, False)
    assert fido2.key_restrictions == KeyRestrictions(False, "block", ())


def test_a_disabled_configuration_allows_nobody() -> None:
    assert not SoftwareOathPolicy(state=PolicyState.DISABLED).allows(USER, ())


@pytest.mark.parametrize(
    ("include", "exclude", "groups", "expected"),
    [
        ((Target("group", ALL_USERS),), (), (), True),
        ((Target("group", GROUP),), (), (GROUP,), True),
        ((Target("group", GROUP),), (), (OTHER,), False),
        ((Target("user", USER),), (), (), True),
        ((Target("group", ALL_USERS),), (Target("group", GROUP),), (GROUP,), False),
        ((Target("user", USER),), (Target("user", USER),), (), False),
        ((), (), (GROUP,), False),
    ],
)
def test_targeting_includes_by_group_user_or_all_and_exclusion_wins(
    include: tuple[Target, ...], exclude: tuple[Target, ...], groups: tuple[str, ...], expected: bool
) -> None:
    assert is_targeted(include, exclude, USER, groups) is expected
    assert (
        SoftwareOathPolicy(include_targets=include, exclude_targets=exclude).allows(USER, groups) is expected
    )


def test_group_ids_are_needed_only_when_a_target_names_a_group() -> None:
    assert not needs_group_ids((Target("group", ALL_USERS),), (Target("user", USER),), USER)
    assert needs_group_ids((Target("group", ALL_USERS),), (Target("group", GROUP),), USER)


def test_tenant_wide_attestation_and_key_restrictions_are_the_default_profiles() -> None:
    restrictions = KeyRestrictions(True, "allow", ("cb69481e-8ff7-4039-93ec-0a2729a154a8",))
    changed = Fido2Policy().with_changes(is_attestation_enforced=True, key_restrictions=restrictions)
    assert isinstance(changed, Fido2Policy)
    assert changed.default_profile.attestation_enforced and changed.is_attestation_enforced
    assert changed.default_profile.key_restrictions == restrictions == changed.key_restrictions


@pytest.mark.parametrize(
    ("restrictions", "words"),
    [
        (KeyRestrictions(True, "deny", ()), "enforcementType"),
        (KeyRestrictions(True, "allow", ("not-a-guid",)), "not a GUID"),
    ],
)
def test_key_restrictions_are_checked(restrictions: KeyRestrictions, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        Fido2Policy().with_changes(key_restrictions=restrictions)


def test_key_restrictions_normalise_aaguids_to_lower_case_once_each() -> None:
    given = KeyRestrictions(
        True, "allow", ("CB69481E-8FF7-4039-93EC-0A2729A154A8", "cb69481e-8ff7-4039-93ec-0a2729a154a8")
    )
    assert given.normalised().aa_guids == ("cb69481e-8ff7-4039-93ec-0a2729a154a8",)


@pytest.mark.parametrize(
    ("include", "exclude", "words"),
    [
        ((), (Target("group", ALL_USERS),), "only be included"),
        ((Target("group", GROUP), Target("group", GROUP)), (), "listed twice"),
        ((Target("role", GROUP),), (), "targetType"),
    ],
)
def test_targets_are_validated_as_the_taps_are(
    include: tuple[Target, ...], exclude: tuple[Target, ...], words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        SoftwareOathPolicy().with_changes(include_targets=include, exclude_targets=exclude)


def test_unknown_groups_are_refused_when_known_groups_are_given() -> None:
    with pytest.raises(InvalidInput, match="no group"):
        SoftwareOathPolicy(include_targets=(Target("group", GROUP),)).validate(known_group_ids=[OTHER])


@pytest.mark.parametrize(
    ("aaguid", "model"),
    [
        ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
        ("FBFC3007-154E-4ECC-8C0B-6E020557D7BD", "iCloud Keychain"),
        ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
        ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
        ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
        ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"),
        ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
        ("00000000-0000-0000-0000-000000000000", None),
        ("12345678-1234-1234-1234-123456789abc", None),
        ("", None),
    ],
)
def test_model_is_the_authenticators_name_from_its_aaguid(aaguid: str, model: str | None) -> None:
    assert model_of(aaguid) == model
