"""Token-signing keys: generation, sealing, publication, signing and verification."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey

from passbridge.clock import ManualClock
from passbridge.security.keys import (
    ALGORITHM,
    TokenInvalid,
    generate_key,
    jwks,
    load_private,
    sign,
    verify,
)
from passbridge.security.secrets import SecretKeeper

PEPPER = b"unit-test-pepper-" + b"k" * 40
OTHER_PEPPER = b"unit-test-pepper-" + b"q" * 40
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _rfc7638_thumbprint(jwk: dict[str, str]) -> str:
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return _b64url_encode(hashlib.sha256(canonical).digest())


def _stamp(when: datetime) -> int:
    return int(when.timestamp())


@pytest.fixture(scope="module")
def keeper() -> SecretKeeper:
    return SecretKeeper(PEPPER)


@pytest.fixture(scope="module")
def new_key(keeper):
    return generate_key(keeper)


@pytest.fixture(scope="module")
def private(keeper, new_key) -> ECKey:
    return load_private(keeper, new_key.kid, new_key.private_jwk_sealed)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def _claims(clock: ManualClock, **extra: object) -> dict[str, object]:
    now = clock.now()
    return {
        "iss": "https://idp.example",
        "sub": "user-1",
        "iat": _stamp(now),
        "exp": _stamp(now + timedelta(hours=1)),
        **extra,
    }


# --- generate_key -------------------------------------------------------------------------------


def test_algorithm_is_es256():
    assert ALGORITHM == "ES256"


def test_public_jwk_has_no_private_part(new_key):
    assert "d" not in new_key.public_jwk


def test_public_jwk_is_a_p256_signing_key_for_es256(new_key):
    assert new_key.public_jwk["kty"] == "EC"
    assert new_key.public_jwk["crv"] == "P-256"
    assert new_key.public_jwk["use"] == "sig"
    assert new_key.public_jwk["alg"] == "ES256"
    assert new_key.alg == "ES256"
    assert set(new_key.public_jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}


def test_kid_equals_the_rfc7638_thumbprint_of_the_public_key(new_key):
    assert new_key.kid == _rfc7638_thumbprint(new_key.public_jwk)
    assert new_key.public_jwk["kid"] == new_key.kid


def test_kid_equals_joserfcs_thumbprint_of_the_published_key(new_key):
    assert ECKey.import_key(new_key.public_jwk).thumbprint() == new_key.kid


def test_two_generated_keys_have_different_kids(keeper, new_key):
    assert generate_key(keeper).kid != new_key.kid


def test_sealed_private_key_does_not_reveal_the_private_scalar(new_key, private):
    d = private.as_dict(private=True)["d"]
    assert d not in new_key.private_jwk_sealed
    assert d.encode() not in base64.urlsafe_b64decode(new_key.private_jwk_sealed)


def test_loaded_private_key_matches_the_published_public_key(new_key, private):
    public_part = private.as_dict(private=False)
    assert (public_part["x"], public_part["y"]) == (new_key.public_jwk["x"], new_key.public_jwk["y"])
    assert private.kid == new_key.kid
    assert "d" in private.as_dict(private=True)


def test_sealed_private_key_cannot_be_loaded_with_another_peppers_keeper(new_key):
    with pytest.raises(InvalidTag):
        load_private(SecretKeeper(OTHER_PEPPER), new_key.kid, new_key.private_jwk_sealed)


def test_sealed_private_key_cannot_be_loaded_under_another_kid(keeper, new_key):
    # The kid is the sealing context: a blob moved to another key's row does not open.
    with pytest.raises(InvalidTag):
        load_private(keeper, new_key.kid + "x", new_key.private_jwk_sealed)


def test_jwks_wraps_the_public_keys(new_key):
    assert jwks([new_key.public_jwk]) == {"keys": [new_key.public_jwk]}
    assert jwks([]) == {"keys": []}


# --- sign / verify ------------------------------------------------------------------------------


def test_signed_token_verifies_and_returns_its_claims(new_key, private, clock):
    claims = _claims(clock)
    token = sign(claims, private)
    assert verify(token, [new_key.public_jwk], now=clock.now()) == claims


def test_signed_token_header_names_algorithm_kid_and_type(new_key, private, clock):
    token = sign(_claims(clock), private)
    header = json.loads(_b64url_decode(token.split(".")[0]))
    assert header == {"alg": "ES256", "kid": new_key.kid, "typ": "JWT"}


def test_signed_token_carries_a_custom_type(private, clock):
    token = sign(_claims(clock), private, typ="at+jwt")
    assert json.loads(_b64url_decode(token.split(".")[0]))["typ"] == "at+jwt"


def test_token_verifies_against_a_key_set_holding_several_keys(keeper, new_key, private, clock):
    other = generate_key(keeper)
    token = sign(_claims(clock), private)
    assert verify(token, [other.public_jwk, new_key.public_jwk], now=clock.now())["sub"] == "user-1"


def test_token_is_valid_one_second_before_expiry(new_key, private, clock):
    token = sign(_claims(clock), private)
    clock.advance(hours=1, seconds=-1)
    assert verify(token, [new_key.public_jwk], now=clock.now())["sub"] == "user-1"


def test_token_is_refused_exactly_at_expiry(new_key, private, clock):
    token = sign(_claims(clock), private)
    clock.advance(hours=1)
    with pytest.raises(TokenInvalid) as caught:
        verify(token, [new_key.public_jwk], now=clock.now())
    assert str(caught.value) == "token has expired"


def test_expired_token_is_refused(new_key, private, clock):
    token = sign(_claims(clock), private)
    clock.advance(days=1)
    with pytest.raises(TokenInvalid) as caught:
        verify(token, [new_key.public_jwk], now=clock.now())
    assert str(caught.value) == "token has expired"


@pytest.mark.parametrize("exp", [None, "2030-01-01", 1.5e12])
def test_token_without_an_integer_expiry_is_refused(new_key, private, clock, exp):
    claims = _claims(clock)
    if exp is None:
        del claims["exp"]
    else:
        claims["exp"] = exp
    token = sign(claims, private)
    with pytest.raises(TokenInvalid) as caught:
        verify(token, [new_key.public_jwk], now=clock.now())
    assert str(caught.value) == "token has expired"


def test_token_not_valid_yet_beyond_five_minutes_skew_is_refused(new_key, private, clock):
    token = sign(_claims(clock, nbf=_stamp(clock.now()) + 301), private)
    with pytest.raises(TokenInvalid) as caught:
        verify(token, [new_key.public_jwk], now=clock.now())
    assert str(caught.value) == "token is not valid yet"


def test_token_not_valid_yet_within_five_minutes_skew_is_accepted(new_key, private, clock):
    token = sign(_claims(clock, nbf=_stamp(clock.now()) + 300), private)
    assert verify(token, [new_key.public_jwk], now=clock.now())["nbf"] == _stamp(START) + 300


def test_token_signed_by_another_key_is_refused(keeper, new_key, clock):
    stranger = generate_key(keeper)
    token = sign(_claims(clock), load_private(keeper, stranger.kid, stranger.private_jwk_sealed))
    with pytest.raises(TokenInvalid) as caught:
        verify(token, [new_key.public_jwk], now=clock.now())
    assert str(caught.value).startswith("token signature or format is invalid")


def test_token_signed_by_another_key_claiming_a_published_kid_is_refused(keeper, new_key, clock):
    stranger = generate_key(keeper)
    forged_key = ECKey.import_key(
        {**json.loads(keeper.unseal(stranger.private_jwk_sealed, stranger.kid.encode())), "kid": new_key.kid}
    )
    token = sign(_claims(clock), forged_key)
    assert json.loads(_b64url_decode(token.split(".")[0]))["kid"] == new_key.kid
    with pytest.raises(TokenInvalid) as caught:
        verify(token, [new_key.public_jwk], now=clock.now())
    assert str(caught.value) == "token signature or format is invalid (BadSignatureError)"


def test_token_with_tampered_claims_is_refused(new_key, private, clock):
    header, _, signature = sign(_claims(clock), private).split(".")
    forged = _b64url_encode(json.dumps(_claims(clock, sub="admin")).encode())
    with pytest.raises(TokenInvalid):
        verify(f"{header}.{forged}.{signature}", [new_key.public_jwk], now=clock.now())


def test_token_with_tampered_signature_is_refused(new_key, private, clock):
    header, payload, signature = sign(_claims(clock), private).split(".")
    raw = bytearray(_b64url_decode(signature))
    raw[0] ^= 0x01
    with pytest.raises(TokenInvalid):
        verify(f"{header}.{payload}.{_b64url_encode(bytes(raw))}", [new_key.public_jwk], now=clock.now())


def test_token_with_its_signature_removed_is_refused(new_key, private, clock):
    header, payload, _ = sign(_claims(clock), private).split(".")
    with pytest.raises(TokenInvalid):
        verify(f"{header}.{payload}.", [new_key.public_jwk], now=clock.now())


def test_unsigned_alg_none_token_is_refused(new_key, clock):
    header = _b64url_encode(json.dumps({"alg": "none", "kid": new_key.kid, "typ": "JWT"}).encode())
    payload = _b64url_encode(json.dumps(_claims(clock)).encode())
    with pytest.raises(TokenInvalid):
        verify(f"{header}.{payload}.", [new_key.public_jwk], now=clock.now())


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "not.a.jwt.at.all"])
def test_malformed_token_is_refused(new_key, clock, garbage):
    with pytest.raises(TokenInvalid) as caught:
        verify(garbage, [new_key.public_jwk], now=clock.now())
    assert str(caught.value).startswith("token signature or format is invalid")


def test_token_is_refused_when_no_keys_are_published(private, clock):
    with pytest.raises(TokenInvalid):
        verify(sign(_claims(clock), private), [], now=clock.now())


def test_token_invalid_message_does_not_echo_the_token(new_key, clock):
    with pytest.raises(TokenInvalid) as caught:
        verify("secret-looking.token-value.here", [new_key.public_jwk], now=clock.now())
    assert "secret-looking" not in str(caught.value)


def test_signing_writes_the_header_and_claims_exactly_as_joserfc_does(private):
    claims = {"iss": "https://idp.example", "roles": ["User.Read.All", "Zoë"], "exp": 1, "n": None}
    ours = sign(dict(claims), private)
    theirs = jwt.encode({"alg": ALGORITHM, "kid": private.kid, "typ": "JWT"}, dict(claims), private)
    assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]


def test_signature_is_raw_r_and_s_of_32_bytes_each_verifiable_with_cryptography(private):
    token = sign({"sub": "x"}, private)
    signing_input, signature_b64 = token.rsplit(".", 1)
    assert "=" not in token
    raw = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    private.get_op_key("verify").verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))


def test_signed_claims_are_the_json_that_json_dumps_writes(private, clock):
    # Non-ASCII names, escapes and nested lists: the payload is UTF-8 compact JSON, as json.dumps
    # (ensure_ascii=False) writes it and as joserfc wrote it before.
    claims = {
        **_claims(clock),
        "name": 'Zoë "Ünïcode" Ōkami 日本\\ \n\t\u2028',
        "amr": ["tap", "mfa"],
        "scp": "",
        "big": 2**53,
    }
    payload = _b64url_decode(sign(claims, private).split(".")[1])
    assert payload == json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
