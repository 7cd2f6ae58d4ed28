"""The pepper and what is derived from it: keyed hashes, Argon2id hashes, sealed blobs."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from passbridge.security.secrets import (
    Argon2Params,
    PepperMissing,
    SecretKeeper,
    create_pepper_file,
    new_client_secret,
    read_pepper,
)

PEPPER = b"unit-test-pepper-" + b"a" * 40
OTHER_PEPPER = b"unit-test-pepper-" + b"b" * 40
SECRET = "Kp7#wq2Z"


@pytest.fixture(scope="module")
def keeper() -> SecretKeeper:
    return SecretKeeper(PEPPER)


@pytest.fixture(scope="module")
def other_keeper() -> SecretKeeper:
    return SecretKeeper(OTHER_PEPPER)


# --- keyed hash ---------------------------------------------------------------------------------


def test_keyed_hash_is_deterministic_for_one_pepper(keeper):
    assert keeper.keyed_hash(SECRET) == keeper.keyed_hash(SECRET)


def test_keyed_hash_is_the_same_for_two_keepers_with_the_same_pepper(keeper):
    assert SecretKeeper(PEPPER).keyed_hash(SECRET) == keeper.keyed_hash(SECRET)


def test_keyed_hash_differs_across_peppers(keeper, other_keeper):
    assert keeper.keyed_hash(SECRET) != other_keeper.keyed_hash(SECRET)


def test_keyed_hash_differs_across_secrets(keeper):
    assert keeper.keyed_hash(SECRET) != keeper.keyed_hash(SECRET + "x")
    assert keeper.keyed_hash("abc") != keeper.keyed_hash("ABC")


def test_keyed_hash_is_sixty_four_lower_case_hex_digits(keeper):
    assert re.fullmatch(r"[0-9a-f]{64}", keeper.keyed_hash(SECRET))


def test_keyed_hash_is_not_a_plain_sha256_of_the_secret(keeper):
    assert keeper.keyed_hash(SECRET) != hashlib.sha256(SECRET.encode()).hexdigest()


def test_keyed_hash_matches_only_the_right_secret(keeper):
    stored = keeper.keyed_hash(SECRET)
    assert keeper.keyed_hash_matches(SECRET, stored) is True
    assert keeper.keyed_hash_matches("wrong", stored) is False


def test_keyed_hash_made_under_another_pepper_does_not_match(keeper, other_keeper):
    assert keeper.keyed_hash_matches(SECRET, other_keeper.keyed_hash(SECRET)) is False


# --- slow hash ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(keeper) -> str:
    return keeper.slow_hash(SECRET)


def test_slow_hash_verifies_the_right_secret(keeper, stored):
    assert keeper.slow_hash_matches(SECRET, stored) is True


def test_slow_hash_verifies_with_a_fresh_keeper_on_the_same_pepper(stored):
    assert SecretKeeper(PEPPER).slow_hash_matches(SECRET, stored) is True


@pytest.mark.parametrize("wrong", ["Kp7#wq2z", "Kp7#wq2", "Kp7#wq2Z ", "", "kp7#wq2z"])
def test_slow_hash_refuses_a_wrong_secret(keeper, stored, wrong):
    assert keeper.slow_hash_matches(wrong, stored) is False


def test_slow_hash_made_under_another_pepper_is_refused(keeper, other_keeper):
    assert keeper.slow_hash_matches(SECRET, other_keeper.slow_hash(SECRET)) is False


def test_slow_hash_is_an_argon2id_phc_string_with_owasp_parameters(stored):
    assert stored.startswith("$argon2id$")
    assert stored.split("$")[2:4] == ["v=19", "m=19456,t=2,p=1"]


def test_default_argon2_parameters_are_owasps():
    assert Argon2Params() == Argon2Params(memory_kib=19456, time_cost=2, parallelism=1)


def test_slow_hash_does_not_contain_the_secret(stored):
    assert SECRET not in stored
    assert base64.b64encode(SECRET.encode()).decode().rstrip("=") not in stored


def test_slow_hash_is_salted_so_two_hashes_of_one_secret_differ(keeper, stored):
    again = keeper.slow_hash(SECRET)
    assert again != stored
    assert keeper.slow_hash_matches(SECRET, again) is True


def test_slow_hash_carries_custom_parameters():
    cheap = SecretKeeper(PEPPER, Argon2Params(memory_kib=8, time_cost=1, parallelism=1))
    value = cheap.slow_hash(SECRET)
    assert value.split("$")[3] == "m=8,t=1,p=1"
    # The parameters travel in the string, so a keeper with other parameters still verifies it.
    assert SecretKeeper(PEPPER).slow_hash_matches(SECRET, value) is True


@pytest.mark.parametrize("garbage", ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$broken"])
def test_slow_hash_refuses_a_malformed_stored_value(keeper, garbage):
    assert keeper.slow_hash_matches(SECRET, garbage) is False


# --- sealing ------------------------------------------------------------------------------------


def test_seal_then_unseal_returns_the_plaintext(keeper):
    sealed = keeper.seal(b"private key bytes", b"kid-1")
    assert keeper.unseal(sealed, b"kid-1") == b"private key bytes"


def test_seal_round_trips_empty_and_binary_data(keeper):
    for data in (b"", bytes(range(256)), b"\x00" * 1000):
        assert keeper.unseal(keeper.seal(data, b"ctx"), b"ctx") == data


def test_unseal_with_a_fresh_keeper_on_the_same_pepper(keeper):
    sealed = keeper.seal(b"payload", b"ctx")
    assert SecretKeeper(PEPPER).unseal(sealed, b"ctx") == b"payload"


def test_sealed_text_is_url_safe_base64_and_hides_the_plaintext(keeper):
    sealed = keeper.seal(b"very secret plaintext", b"ctx")
    assert re.fullmatch(r"[A-Za-z0-9_\-]+=*", sealed)
    assert b"very secret plaintext" not in base64.urlsafe_b64decode(sealed)
    # 12-byte nonce + ciphertext of the same length + 16-byte tag.
    assert len(base64.urlsafe_b64decode(sealed)) == 12 + len(b"very secret plaintext") + 16


def test_sealing_twice_gives_different_blobs(keeper):
    assert keeper.seal(b"payload", b"ctx") != keeper.seal(b"payload", b"ctx")


def test_unseal_with_the_wrong_context_fails(keeper):
    sealed = keeper.seal(b"payload", b"kid-1")
    with pytest.raises(InvalidTag):
        keeper.unseal(sealed, b"kid-2")


def test_unseal_with_an_empty_context_fails_for_a_blob_sealed_with_one(keeper):
    sealed = keeper.seal(b"payload", b"kid-1")
    with pytest.raises(InvalidTag):
        keeper.unseal(sealed, b"")


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])
def test_unseal_of_tampered_data_fails(keeper, position):
    raw = bytearray(base64.urlsafe_b64decode(keeper.seal(b"payload of some length", b"ctx")))
    raw[position] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(InvalidTag):
        keeper.unseal(tampered, b"ctx")


def test_unseal_of_truncated_data_fails(keeper):
    raw = base64.urlsafe_b64decode(keeper.seal(b"payload", b"ctx"))
    with pytest.raises(InvalidTag):
        keeper.unseal(base64.urlsafe_b64encode(raw[:-1]).decode(), b"ctx")


def test_unseal_under_another_pepper_fails(keeper, other_keeper):
    sealed = keeper.seal(b"payload", b"ctx")
    with pytest.raises(InvalidTag):
        other_keeper.unseal(sealed, b"ctx")


# --- the pepper file ----------------------------------------------------------------------------


def test_pepper_file_is_created_readable_by_owner_only(tmp_path: Path):
    path = tmp_path / "pepper"
    create_pepper_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_pepper_file_creates_missing_parent_directories(tmp_path: Path):
    path = tmp_path / "data" / "nested" / "pepper"
    create_pepper_file(path)
    assert path.is_file()


def test_pepper_file_holds_32_random_bytes_as_url_safe_base64(tmp_path: Path):
    path = tmp_path / "pepper"
    create_pepper_file(path)
    text = path.read_text()
    assert text.endswith("\n")
    assert len(base64.urlsafe_b64decode(text.strip())) == 32


def test_two_pepper_files_differ(tmp_path: Path):
    create_pepper_file(tmp_path / "one")
    create_pepper_file(tmp_path / "two")
    assert (tmp_path / "one").read_text() != (tmp_path / "two").read_text()


def test_pepper_file_is_never_overwritten(tmp_path: Path):
    path = tmp_path / "pepper"
    create_pepper_file(path)
    before = path.read_text()
    with pytest.raises(FileExistsError):
        create_pepper_file(path)
    assert path.read_text() == before


def test_pepper_file_does_not_overwrite_a_file_it_did_not_write(tmp_path: Path):
    path = tmp_path / "pepper"
    path.write_text("someone else's file\n")
    with pytest.raises(FileExistsError):
        create_pepper_file(path)
    assert path.read_text() == "someone else's file\n"


def test_read_pepper_returns_the_written_pepper_without_the_newline(tmp_path: Path):
    path = tmp_path / "pepper"
    create_pepper_file(path)
    assert read_pepper(path, None) == path.read_text().strip().encode()
    assert len(read_pepper(path, None)) == 44


def test_read_pepper_raises_pepper_missing_for_a_missing_file(tmp_path: Path):
    path = tmp_path / "absent"
    with pytest.raises(PepperMissing) as caught:
        read_pepper(path, None)
    assert str(caught.value) == f"no pepper at {path}; run 'passbridge init' or set PASSBRIDGE_PEPPER"


def test_read_pepper_refuses_a_pepper_too_short_to_be_ours(tmp_path: Path):
    path = tmp_path / "pepper"
    path.write_text("x" * 31 + "\n")
    with pytest.raises(PepperMissing) as caught:
        read_pepper(path, None)
    assert str(caught.value) == f"the pepper at {path} is too short to be one Passbridge wrote"


def test_read_pepper_accepts_thirty_two_characters(tmp_path: Path):
    path = tmp_path / "pepper"
    path.write_text("x" * 32 + "\n")
    assert read_pepper(path, None) == b"x" * 32


def test_override_wins_over_a_pepper_file(tmp_path: Path):
    path = tmp_path / "pepper"
    create_pepper_file(path)
    assert read_pepper(path, "from-the-environment") == b"from-the-environment"


def test_override_is_used_when_no_pepper_file_exists(tmp_path: Path):
    assert read_pepper(tmp_path / "absent", "from-the-environment") == b"from-the-environment"


def test_empty_override_falls_back_to_the_file(tmp_path: Path):
    path = tmp_path / "pepper"
    create_pepper_file(path)
    assert read_pepper(path, "") == path.read_text().strip().encode()


# --- client secrets -----------------------------------------------------------------------------


def test_client_secret_is_forty_url_safe_characters():
    value = new_client_secret()
    assert re.fullmatch(r"[A-Za-z0-9_\-]{40}", value)


def test_client_secrets_are_not_repeated():
    assert len({new_client_secret() for _ in range(1000)}) == 1000


def test_keyed_hash_is_hmac_sha256_under_the_derived_key_whatever_came_before(keeper):
    # Hashes start from a keyed copy: earlier hashes, and hashes in other threads, must not leak in.
    import hmac
    import threading

    expected = {
        s: hmac.new(keeper._hmac_key, s.encode(), hashlib.sha256).hexdigest() for s in ("a", "b", SECRET)
    }
    results: list[bool] = []

    def hash_many() -> None:
        results.extend(keeper.keyed_hash(s) == expected[s] for _ in range(300) for s in expected)

    threads = [threading.Thread(target=hash_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 * 300 * 3 and all(results)
