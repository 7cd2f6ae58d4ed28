"""signin/strategies.py: signing in with a passkey (no username needed) or an authenticator
app code, on both databases; passkeys answered by a software authenticator (tests/softkey.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import PermissionDenied
from passbridge.methods.oath import AuthenticatorAppService
from passbridge.methods.passkeys import PasskeyService
from passbridge.passes.policy import MethodChanges, PolicyService
from passbridge.passes.policy_rules import PolicyState
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.security import otp
from passbridge.services.context import Env, operator
from passbridge.signin.flow import SignInService
from passbridge.signin.rules import CsrfMismatch, FlowExpired, LockedOut, SignInFailed
from passbridge.signin.strategies import Code, Pass, Passkey
from passbridge.store.models import Ceremony, Fido2Credential, SignInLogEntry, User
from tests.factories import make_user
from tests.softkey import SoftAuthenticator
from tests.unit.session_helpers import signed_in

ORIGIN = "http://localhost:8000"


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> User:
    return make_user(env, "ada@contoso.example", display_name="Ada Lovelace")


@pytest.fixture
def service(env: Env) -> SignInService:
    return SignInService(env)


def _enrol(env: Env, user: User, key: SoftAuthenticator) -> None:
    view = signed_in(env, user)
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = key.create(started.options)
    with env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer)


def _app_secret(env: Env, user: User) -> str:
    view = signed_in(env, user)
    with env.db.transaction() as tx:
        started = AuthenticatorAppService(tx, env, view).begin_setup()
    with env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).finish_setup(
            started.ceremony_id, otp.code_at(started.secret, env.clock.now())
        )
    return started.secret


def _log(env: Env) -> list[SignInLogEntry]:
    with env.db.transaction("read") as tx:
        return list(tx.session.scalars(select(SignInLogEntry).order_by(SignInLogEntry.created_at)))


def _passkey_refused(
    env: Env,
    service: SignInService,
    answer: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    username: str | None = None,
) -> SignInLogEntry:
    """Begin a flow (naming `username` if given), answer its passkey challenge with `answer(options)`,
    expect the refusal, and return the sign-in log entry it wrote."""
    flow = service.begin()
    if username is not None:
        service.identify(flow.id, flow.csrf_token, username)
    started = service.passkey_options(flow.id, flow.csrf_token)
    with pytest.raises(SignInFailed):
        service.prove(
            flow.id, flow.csrf_token, Passkey(started.ceremony_id, answer(started.options)), ip_address=None
        )
    return _log(env)[-1]


def test_a_passkey_signs_in_without_a_username_as_phishing_resistant(
    env: Env, ada: User, service: SignInService
) -> None:
    key = SoftAuthenticator(ORIGIN)
    _enrol(env, ada, key)
    flow = service.begin()
    started = service.passkey_options(flow.id, flow.csrf_token)
    assert started.options["allowCredentials"] == [] and started.options["userVerification"] == "required"
    signed = service.prove(
        flow.id,
        flow.csrf_token,
        Passkey(started.ceremony_id, key.get(started.options)),
        ip_address="10.1.1.1",
    )
    assert signed.session.user_id == ada.id and not signed.needs_setup
    assert signed.session.amr == ("hwk", "mfa") and signed.session.acr == "phishing-resistant-mfa"
    entry = _log(env)[-1]
    assert entry.error_code == 0 and entry.user_id == ada.id
    assert entry.authentication_details[0]["authenticationMethod"] == "Passkey (device-bound)"
    with env.db.transaction("read") as tx:
        stored = tx.session.scalars(select(Fido2Credential)).one()
        assert stored.sign_count == 2 and stored.last_used_at == env.clock.now()


def test_a_synced_passkey_is_a_software_key(env: Env, ada: User, service: SignInService) -> None:
    key = SoftAuthenticator(ORIGIN, synced=True)
    _enrol(env, ada, key)
    flow = service.begin()
    started = service.passkey_options(flow.id, flow.csrf_token)
    signed = service.prove(
        flow.id, flow.csrf_token, Passkey(started.ceremony_id, key.get(started.options)), ip_address=None
    )
    assert signed.session.amr == ("swk", "mfa")


def test_a_replayed_passkey_answer_is_refused(env: Env, ada: User, service: SignInService) -> None:
    key = SoftAuthenticator(ORIGIN)
    _enrol(env, ada, key)
    flow = service.begin()
    started = service.passkey_options(flow.id, flow.csrf_token)
    answer = key.get(started.options)
    service.prove(flow.id, flow.csrf_token, Passkey(started.ceremony_id, answer), ip_address=None)
    with pytest.raises(FlowExpired):  # the flow is done
        service.prove(flow.id, flow.csrf_token, Passkey(started.ceremony_id, answer), ip_address=None)
    other = service.begin()  # the same answer against a fresh flow: the challenge is not this flow's
    with pytest.raises(SignInFailed):
        service.prove(other.id, other.csrf_token, Passkey(started.ceremony_id, answer), ip_address=None)


def test_a_sign_counter_that_did_not_grow_is_refused_logged_and_consumes_nothing(
    env: Env, ada: User, service: SignInService
) -> None:
    key = SoftAuthenticator(ORIGIN)
    _enrol(env, ada, key)  # stored count: 1
    flow = service.begin()
    started = service.passkey_options(flow.id, flow.csrf_token)
    cloned = key.get(started.options, sign_count=1)
    with pytest.raises(SignInFailed):
        service.prove(flow.id, flow.csrf_token, Passkey(started.ceremony_id, cloned), ip_address="10.0.0.9")
    entry = _log(env)[-1]
    assert entry.error_code != 0 and entry.user_id == ada.id and "sign count" in (entry.failure_reason or "")
    with env.db.transaction("read") as tx:
        assert tx.session.get(Ceremony, started.ceremony_id).used_at is None  # type: ignore[union-attr]
    fine = key.get(started.options, sign_count=5)
    assert service.prove(flow.id, flow.csrf_token, Passkey(started.ceremony_id, fine), ip_address=None)


def test_an_unknown_or_deleted_passkey_is_refused_and_logged(
    env: Env, ada: User, service: SignInService
) -> None:
    stranger = SoftAuthenticator(ORIGIN)
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})
    assert "not registered" in (_passkey_refused(env, service, stranger.get).failure_reason or "")


def test_an_answer_for_another_origin_is_refused(env: Env, ada: User, service: SignInService) -> None:
    key = SoftAuthenticator(ORIGIN)
    _enrol(env, ada, key)
    entry = _passkey_refused(
        env, service, lambda options: key.get(options, origin="https://login.contoso-example.net")
    )
    assert "origin" in (entry.failure_reason or "")


def test_after_a_username_the_passkey_must_be_that_accounts(
    env: Env, ada: User, service: SignInService
) -> None:
    key = SoftAuthenticator(ORIGIN)
    _enrol(env, ada, key)
    make_user(env, "eve@contoso.example")
    _passkey_refused(env, service, key.get, username="eve@contoso.example")


def test_passkey_options_need_the_flows_csrf_token(env: Env, ada: User, service: SignInService) -> None:
    flow = service.begin()
    with pytest.raises(CsrfMismatch):
        service.passkey_options(flow.id, "forged")


def test_an_authenticator_app_code_signs_in_as_single_factor_and_cannot_be_replayed(
    env: Env, ada: User, service: SignInService
) -> None:
    secret = _app_secret(env, ada)
    env.clock.advance(seconds=30)  # type: ignore[attr-defined]
    code = otp.code_at(secret, env.clock.now())
    flow = service.begin()
    service.identify(flow.id, flow.csrf_token, "ADA@contoso.example")
    signed = service.prove(flow.id, flow.csrf_token, Code(code), ip_address="10.2.2.2")
    assert signed.session.amr == ("otp",) and signed.session.acr == "single-factor"
    assert _log(env)[-1].authentication_details[0]["authenticationMethod"] == "OATH verification code"
    again = service.begin()
    service.identify(again.id, again.csrf_token, "ada@contoso.example")
    with pytest.raises(SignInFailed):
        service.prove(again.id, again.csrf_token, Code(code), ip_address="10.2.2.2")


def test_wrong_codes_count_towards_the_lockout(env: Env, ada: User, service: SignInService) -> None:
    secret = _app_secret(env, ada)
    flow = service.begin()
    service.identify(flow.id, flow.csrf_token, "ada@contoso.example")
    for _ in range(env.settings.lockout_threshold):
        with pytest.raises(SignInFailed):
            service.prove(flow.id, flow.csrf_token, Code("000000"), ip_address="10.3.3.3")
    env.clock.advance(seconds=30)  # type: ignore[attr-defined]
    with pytest.raises(LockedOut):
        service.prove(
            flow.id, flow.csrf_token, Code(otp.code_at(secret, env.clock.now())), ip_address="10.3.3.3"
        )


def test_a_code_for_an_unknown_user_fails_like_a_wrong_one(
    env: Env, tenant: Initialised, service: SignInService
) -> None:
    flow = service.begin()
    service.identify(flow.id, flow.csrf_token, "nobody@contoso.example")
    with pytest.raises(SignInFailed) as failed:
        service.prove(flow.id, flow.csrf_token, Code("123456"), ip_address=None)
    assert failed.value.message == SignInFailed.GENERIC


def test_a_pass_sign_in_skips_set_up_once_a_passkey_exists(env: Env, ada: User) -> None:
    _enrol(env, ada, SoftAuthenticator(ORIGIN))
    with env.db.transaction() as tx:
        issued = TapService(tx, env, operator()).issue(ada.id, PassRequest())
    service = SignInService(env)
    flow = service.begin()
    service.identify(flow.id, flow.csrf_token, ada.user_principal_name)
    assert not service.prove(flow.id, flow.csrf_token, Pass(issued.value), ip_address=None).needs_setup


def _turn_off(env: Env, config_id: str) -> None:
    with env.db.transaction() as tx:
        PolicyService(tx, env, operator()).update_method(config_id, MethodChanges(state=PolicyState.DISABLED))


def test_passkeys_turned_off_by_policy_neither_register_nor_sign_in(
    env: Env, ada: User, service: SignInService
) -> None:
    key = SoftAuthenticator(ORIGIN)
    _enrol(env, ada, key)
    _turn_off(env, "Fido2")
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        PasskeyService(tx, env, signed_in(env, ada)).begin_registration()
    assert "turned off" in (_passkey_refused(env, service, key.get).failure_reason or "")


def test_authenticator_apps_turned_off_by_policy_neither_set_up_nor_sign_in(
    env: Env, ada: User, service: SignInService
) -> None:
    secret = _app_secret(env, ada)
    _turn_off(env, "SoftwareOath")
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, signed_in(env, ada)).begin_setup()
    env.clock.advance(seconds=30)  # type: ignore[attr-defined]
    flow = service.begin()
    service.identify(flow.id, flow.csrf_token, ada.user_principal_name)
    with pytest.raises(SignInFailed):
        service.prove(flow.id, flow.csrf_token, Code(otp.code_at(secret, env.clock.now())), ip_address=None)
