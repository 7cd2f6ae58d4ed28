"""methods/registration.py: changing one's own sign-in methods needs a multi-factor session (Entra asks
for MFA before security info is registered). A code alone must not add, rename or remove anything, even
for someone who already holds an authenticator app: a passkey enrolled that way would satisfy
phishing-resistant MFA from a single factor."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from passbridge.directory.tenant import Initialised
from passbridge.methods.oath import AuthenticatorAppService
from passbridge.methods.passkeys import PasskeyService
from passbridge.methods.registration import SingleFactorSession, is_multi_factor
from passbridge.security import otp
from passbridge.services.context import Env
from passbridge.signin.sessions import SessionView
from passbridge.store.models import Ceremony, Fido2Credential, SoftwareOathMethod, User
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


def _code_only(env: Env, user: User) -> SessionView:
    """A session as a sign-in with an authenticator-app code alone leaves it."""
    return signed_in(env, user, amr=("otp",), acr="single-factor")


def _add_app(env: Env, view: SessionView) -> str:
    with env.db.transaction() as tx:
        started = AuthenticatorAppService(tx, env, view).begin_setup()
    with env.db.transaction() as tx:
        return (
            AuthenticatorAppService(tx, env, view)
            .finish_setup(started.ceremony_id, otp.code_at(started.secret, env.clock.now()))
            .id
        )


def _add_passkey(env: Env, view: SessionView) -> str:
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = SoftAuthenticator(ORIGIN).create(started.options)
    with env.db.transaction() as tx:
        return PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer).id


@pytest.mark.parametrize(
    ("amr", "multi"),
    [
        (("tap", "mfa"), True),
        (("hwk", "mfa"), True),
        (("swk", "mfa"), True),
        (("otp",), False),
        (("otp", "hwk"), True),  # a code plus something else
        (("otp", "tap"), True),
        ((), False),
        (("otp", "otp"), False),  # the same factor twice is still one
    ],
)
def test_multi_factor_means_mfa_or_two_distinct_methods(amr: tuple[str, ...], multi: bool) -> None:
    assert is_multi_factor(amr) is multi


def test_a_code_only_session_cannot_register_a_passkey_even_holding_an_app(env: Env, ada: User) -> None:
    _add_app(env, signed_in(env, ada))
    view = _code_only(env, ada)
    with pytest.raises(SingleFactorSession), env.db.transaction() as tx:
        PasskeyService(tx, env, view).begin_registration()
    assert (_count(env, Ceremony), _count(env, Fido2Credential)) == (1, 0)  # the app's set-up only


def test_a_code_only_session_cannot_finish_a_passkey_registration(env: Env, ada: User) -> None:
    """Each step checks: a ceremony cannot be begun strong and finished on the code-only session, as
    ceremonies belong to their session, and finish refuses a single-factor one before anything else."""
    _add_app(env, signed_in(env, ada))
    view = _code_only(env, ada)
    with pytest.raises(SingleFactorSession), env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration("no-such-ceremony", "{}")
    assert _count(env, Fido2Credential) == 0


def test_a_code_only_session_cannot_add_another_authenticator_app(env: Env, ada: User) -> None:
    _add_app(env, signed_in(env, ada))
    view = _code_only(env, ada)
    with pytest.raises(SingleFactorSession), env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).begin_setup()
    assert _count(env, SoftwareOathMethod) == 1


def test_a_code_only_session_cannot_rename_or_remove_methods(env: Env, ada: User) -> None:
    strong = signed_in(env, ada)
    app_id, passkey_id = _add_app(env, strong), _add_passkey(env, strong)
    view = _code_only(env, ada)
    attempts = [
        lambda session: PasskeyService(session, env, view).delete(passkey_id),
        lambda session: PasskeyService(session, env, view).rename(passkey_id, "Attacker's"),
        lambda session: AuthenticatorAppService(session, env, view).delete(app_id),
        lambda session: AuthenticatorAppService(session, env, view).rename(app_id, "Old phone"),
    ]
    for attempt in attempts:
        with pytest.raises(SingleFactorSession), env.db.transaction() as tx:
            attempt(tx)
    with env.db.transaction("read") as tx:
        assert [p.display_name for p in PasskeyService(tx, env, view).list()] == ["Passkey"]
        assert [a.display_name for a in AuthenticatorAppService(tx, env, view).list()] == [
            "Authenticator app"
        ]


def test_a_code_only_session_may_still_list_its_methods(env: Env, ada: User) -> None:
    _add_app(env, signed_in(env, ada))
    view = _code_only(env, ada)
    with env.db.transaction("read") as tx:
        assert len(AuthenticatorAppService(tx, env, view).list()) == 1


def test_a_code_plus_another_factor_may_add_a_passkey(env: Env, ada: User) -> None:
    _add_app(env, signed_in(env, ada))
    view = signed_in(env, ada, amr=("otp", "hwk"), acr="mfa")
    _add_passkey(env, view)
    assert _count(env, Fido2Credential) == 1
