"""methods/passkeys.py: registering passkeys in security info, on both databases, verified by
py_webauthn against answers from a software authenticator (tests/softkey.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import NotFound, PermissionDenied
from passbridge.methods.passkeys import PasskeyService, user_handle
from passbridge.methods.registration import ReauthenticationRequired
from passbridge.security.webauthn import CeremonyFailed
from passbridge.services.context import Env
from passbridge.signin.sessions import SessionView
from passbridge.store.models import AuditEntry, Ceremony, Fido2Credential, User, UserSession
from tests.factories import make_user
from tests.softkey import SoftAuthenticator
from tests.unit.session_helpers import signed_in

ORIGIN = "http://localhost:8000"


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> User:
    return make_user(env, "ada@contoso.example", display_name="Ada Lovelace")


def _count(env: Env, table: type) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(table)) or 0)


def _register(env: Env, view: SessionView, key: SoftAuthenticator, name: str | None = "Laptop") -> str:
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = key.create(started.options)
    with env.db.transaction() as tx:
        return PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer, name).id


def test_registration_options_require_a_resident_key_and_user_verification(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    with env.db.transaction() as tx:
        options = PasskeyService(tx, env, view).begin_registration().options
    assert options["rp"] == {"id": "localhost", "name": "Contoso"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert options["user"]["name"] == "ada@contoso.example"
    assert options["excludeCredentials"] == []


def test_a_verified_passkey_is_stored_with_its_public_material_and_audited(env: Env, ada: User) -> None:
    view = signed_in(env, ada, register_by_minutes=10)
    key = SoftAuthenticator(ORIGIN)
    _register(env, view, key, name="  Work   laptop ")
    with env.db.transaction("read") as tx:
        stored = tx.session.scalars(select(Fido2Credential)).one()
        assert stored.user_id == ada.id and stored.display_name == "Work laptop"
        assert stored.sign_count == 1 and stored.transports == ["internal"]
        assert stored.aaguid == "00000000-0000-0000-0000-000000000000"
        assert not stored.backup_eligible and stored.attestation_format == "none"
        assert key.credentials[0].user_handle == user_handle(ada.id)
        # Registering closes the one-time pass's ten-minute window.
        assert tx.session.get(UserSession, view.id).register_by is None  # type: ignore[union-attr]
        entry = tx.session.scalars(select(AuditEntry)).all()[-1]
        assert entry.activity_display_name == "User registered security info"
        assert entry.result_reason == "User registered Fido2 Authentication Method"
        assert stored.public_key.hex() not in json.dumps([entry.initiated_by, entry.target_resources])


def test_existing_passkeys_are_excluded_from_a_new_registration(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    key = SoftAuthenticator(ORIGIN)
    _register(env, view, key)
    with env.db.transaction() as tx:
        options = PasskeyService(tx, env, view).begin_registration().options
    assert [c["id"] for c in options["excludeCredentials"]] == [
        __import__("webauthn").helpers.bytes_to_base64url(key.credentials[0].credential_id)
    ]
    with pytest.raises(RuntimeError, match="InvalidStateError"):
        key.create(options)


def test_a_failed_answer_consumes_nothing_and_the_same_ceremony_can_be_retried(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    key = SoftAuthenticator(ORIGIN)
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    wrong_origin = key.create(started.options, origin="https://evil.example")
    with pytest.raises(CeremonyFailed, match="origin"), env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, wrong_origin)
    with pytest.raises(CeremonyFailed), env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, '{"id": "garbage"}')
    assert _count(env, Fido2Credential) == 0
    with env.db.transaction("read") as tx:
        assert tx.session.get(Ceremony, started.ceremony_id).used_at is None  # type: ignore[union-attr]
    retry = SoftAuthenticator(ORIGIN).create(started.options)
    with env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, retry)
    assert _count(env, Fido2Credential) == 1


def test_a_replayed_registration_answer_is_refused(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = SoftAuthenticator(ORIGIN).create(started.options)
    with env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer)
    with pytest.raises(NotFound), env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer)
    assert _count(env, Fido2Credential) == 1


def test_a_ceremony_belongs_to_the_session_that_began_it(env: Env, ada: User) -> None:
    view, other = signed_in(env, ada), signed_in(env, make_user(env, "eve@contoso.example"))
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = SoftAuthenticator(ORIGIN).create(started.options)
    with pytest.raises(NotFound), env.db.transaction() as tx:
        PasskeyService(tx, env, other).finish_registration(started.ceremony_id, answer)
    assert _count(env, Fido2Credential) == 0


def test_an_expired_ceremony_is_refused(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = SoftAuthenticator(ORIGIN).create(started.options)
    env.clock.advance(minutes=3)  # type: ignore[attr-defined]
    view = signed_in(env, ada)
    with pytest.raises(NotFound), env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer)


def test_registration_needs_a_sign_in_within_ten_minutes(env: Env, ada: User) -> None:
    view = signed_in(env, ada, minutes_ago=11)
    with pytest.raises(ReauthenticationRequired), env.db.transaction() as tx:
        PasskeyService(tx, env, view).begin_registration()
    assert _count(env, Ceremony) == 0


def test_an_authenticator_app_session_cannot_enrol_a_first_passkey(env: Env, ada: User) -> None:
    view = signed_in(env, ada, amr=("otp",), acr="single-factor")
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        PasskeyService(tx, env, view).begin_registration()


def test_a_passkey_session_may_add_another_passkey(env: Env, ada: User) -> None:
    _register(env, signed_in(env, ada), SoftAuthenticator(ORIGIN))
    view = signed_in(env, ada, amr=("hwk", "mfa"), acr="phishing-resistant-mfa")
    _register(env, view, SoftAuthenticator(ORIGIN), name="Phone")
    assert _count(env, Fido2Credential) == 2


def test_rename_and_delete_act_on_the_owners_passkeys_only(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    passkey_id = _register(env, view, SoftAuthenticator(ORIGIN))
    eve = signed_in(env, make_user(env, "eve@contoso.example"))
    with pytest.raises(NotFound), env.db.transaction() as tx:
        PasskeyService(tx, env, eve).delete(passkey_id)
    with env.db.transaction() as tx:
        PasskeyService(tx, env, view).rename(passkey_id, "YubiKey")
    with env.db.transaction() as tx:
        assert [p.display_name for p in PasskeyService(tx, env, view).list()] == ["YubiKey"]
        PasskeyService(tx, env, view).delete(passkey_id)
    assert _count(env, Fido2Credential) == 0
