"""Passkey profiles' pure rules: which profile applies, what it refuses, what it asks the browser for,
and how a PATCH's collection merges (methods/passkey_profiles.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from passbridge.domain.errors import InvalidInput
from passbridge.methods.passkey_profiles import (
    DEFAULT_PROFILE_ID,
    Assignment,
    AttestationEnforcement,
    Candidate,
    KeyRestrictions,
    PasskeyProfile,
    PasskeyType,
    ProfileChange,
    RestrictionChange,
    check_profiles,
    check_roots,
    merge_assignments,
    merge_profiles,
    parse_passkey_types,
    profile_for,
    refusal,
    split_pem,
    steering,
)
from passbridge.passes.policy_rules import ALL_USERS, Target

DEFAULT = PasskeyProfile(DEFAULT_PROFILE_ID, "Default passkey profile")
ADMINS = "a1a1a1a1-0000-4000-8000-000000000001"
PILOT = "b2b2b2b2-0000-4000-8000-000000000002"
USER = "c3c3c3c3-0000-4000-8000-000000000003"
STRICT = PasskeyProfile("11111111-0000-4000-8000-000000000001", "Strict", (PasskeyType.DEVICE_BOUND,))
LOOSE = PasskeyProfile("22222222-0000-4000-8000-000000000002", "Loose")
YUBIKEY = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
OTHER = "ee882879-721c-4913-9775-3dfcce97072a"


def test_first_profile_in_order_assigned_to_one_of_the_users_targets_applies() -> None:
    profiles = (DEFAULT, STRICT, LOOSE)
    assignments = (Assignment(PILOT, (LOOSE.id,)), Assignment(ADMINS, (STRICT.id,)))
    # In both groups: STRICT is listed before LOOSE, whatever the assignments' order.
    assert profile_for(profiles, assignments, USER, [PILOT, ADMINS]) == STRICT
    assert profile_for(profiles, assignments, USER, [PILOT]) == LOOSE
    assert profile_for(profiles, (Assignment(USER, (LOOSE.id,)),), USER, []) == LOOSE
    assert profile_for(profiles, (Assignment(ALL_USERS, (LOOSE.id,)),), USER, []) == LOOSE


def test_default_profile_applies_when_no_other_profile_is_assigned_to_the_user() -> None:
    assignments = (Assignment(ADMINS, (STRICT.id,)),)
    assert profile_for((DEFAULT, STRICT), assignments, USER, [PILOT]) == DEFAULT


def test_synced_passkey_refused_by_device_bound_only_profile_and_accepted_by_default() -> None:
    synced = Candidate(YUBIKEY, backup_eligible=True, attested=False)
    assert "device-bound" in (refusal(STRICT, synced) or "")
    assert refusal(DEFAULT, synced) is None
    assert refusal(STRICT, Candidate(YUBIKEY, backup_eligible=False, attested=False)) is None


def test_device_bound_passkey_refused_by_synced_only_profile() -> None:
    synced_only = PasskeyProfile(LOOSE.id, "Synced", (PasskeyType.SYNCED,))
    assert "synced" in (refusal(synced_only, Candidate(YUBIKEY, False, False)) or "")


@pytest.mark.parametrize(
    ("enforcement", "aaguid", "refused"),
    [("allow", YUBIKEY, False), ("allow", OTHER, True), ("block", YUBIKEY, True), ("block", OTHER, False)],
)
def test_aaguid_allow_and_block_lists(enforcement: str, aaguid: str, refused: bool) -> None:
    profile = PasskeyProfile(
        LOOSE.id, "Listed", key_restrictions=KeyRestrictions(True, enforcement, (YUBIKEY,))
    )
    assert (refusal(profile, Candidate(aaguid.upper(), False, False)) is not None) is refused


def test_key_restrictions_not_enforced_admit_any_aaguid() -> None:
    profile = PasskeyProfile(LOOSE.id, "Off", key_restrictions=KeyRestrictions(False, "allow", (YUBIKEY,)))
    assert refusal(profile, Candidate(OTHER, False, False)) is None


def test_attestation_enforced_refuses_an_unattested_passkey_whatever_its_aaguid() -> None:
    profile = PasskeyProfile(
        LOOSE.id,
        "Attested",
        attestation=AttestationEnforcement.REGISTRATION_ONLY,
        key_restrictions=KeyRestrictions(True, "allow", (YUBIKEY,)),
    )
    assert "verify" in (refusal(profile, Candidate(YUBIKEY, False, attested=False)) or "")
    assert refusal(profile, Candidate(YUBIKEY, False, attested=True)) is None


def test_registration_asks_for_attestation_when_the_profile_checks_aaguids_or_attestation() -> None:
    assert steering(DEFAULT).attestation == "none"
    assert steering(STRICT) == steering(STRICT).__class__("none", True)
    listed = PasskeyProfile(LOOSE.id, "L", key_restrictions=KeyRestrictions(True, "block", (OTHER,)))
    assert steering(listed).attestation == "direct"
    attested = PasskeyProfile(LOOSE.id, "A", attestation=AttestationEnforcement.REGISTRATION_ONLY)
    assert steering(attested).attestation == "direct"


def test_passkey_types_read_graph_flags_and_lists() -> None:
    assert parse_passkey_types("synced, deviceBound") == (PasskeyType.DEVICE_BOUND, PasskeyType.SYNCED)
    assert parse_passkey_types(["deviceBound"]) == (PasskeyType.DEVICE_BOUND,)
    with pytest.raises(InvalidInput, match="roaming"):
        parse_passkey_types("roaming")


def test_patch_merges_profiles_by_id_and_keeps_the_default_first() -> None:
    merged = merge_profiles(
        (DEFAULT, STRICT),
        (
            ProfileChange(id=STRICT.id.upper(), key_restrictions=RestrictionChange(is_enforced=True)),
            ProfileChange(id=DEFAULT_PROFILE_ID, name="Everyone"),
            ProfileChange(name="New one", passkey_types=(PasskeyType.SYNCED,)),
        ),
    )
    assert [p.name for p in merged] == ["Everyone", "Strict", "New one"]
    assert merged[1].passkey_types == STRICT.passkey_types and merged[1].key_restrictions.is_enforced
    assert merged[2].passkey_types == (PasskeyType.SYNCED,)


def test_patch_without_the_default_profile_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot be removed"):
        merge_profiles((DEFAULT, STRICT), (ProfileChange(id=STRICT.id),))


def test_assignments_omitted_by_a_target_keep_what_was_stored_and_default_is_no_assignment() -> None:
    stored = (Assignment(ADMINS, (STRICT.id,)),)
    merged = merge_assignments(stored, ((ADMINS.upper(), None), (ALL_USERS, (DEFAULT_PROFILE_ID,))))
    assert merged == stored
    assert merge_assignments(stored, ((ADMINS, ()),)) == ()


def test_profiles_are_checked_as_a_whole() -> None:
    include = (Target("group", ALL_USERS), Target("group", ADMINS))
    check_profiles((DEFAULT, STRICT), (Assignment(ADMINS, (STRICT.id,)),), include)
    cases = [
        ((STRICT,), (), "cannot be removed"),
        ((DEFAULT, STRICT, STRICT), (), "Two passkey profiles have the id"),
        ((DEFAULT, STRICT, PasskeyProfile(LOOSE.id, "strict")), (), "named"),
        ((DEFAULT, PasskeyProfile(LOOSE.id, "None", ())), (), "passkeyTypes"),
        ((DEFAULT, STRICT), (Assignment(PILOT, (STRICT.id,)),), "not one of the includeTargets"),
        ((DEFAULT,), (Assignment(ADMINS, (STRICT.id,)),), "no passkey profile"),
    ]
    for profiles, assignments, words in cases:
        with pytest.raises(InvalidInput, match=words):
            check_profiles(profiles, assignments, include)


def _certificate() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vendor root")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def test_trust_roots_must_be_readable_pem_certificates() -> None:
    good = _certificate()
    check_roots((good,), "roots")
    assert split_pem(good + "\n" + good) == (good.strip(), good.strip())
    for bad in ("hello", good.replace("MI", "xx", 3), good + good):
        with pytest.raises(InvalidInput, match="PEM"):
            check_roots((bad,), "roots")
