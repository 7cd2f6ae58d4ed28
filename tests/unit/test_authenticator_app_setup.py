"""methods/oath.py: setting up an authenticator app (TOTP) and checking its codes, on both databases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.methods.oath import AuthenticatorAppService, accept_code
from passbridge.security import otp
from passbridge.services.context import Env
from passbridge.store.models import AuditEntry, SoftwareOathMethod, User
from tests.factories import make_user
from tests.unit.session_helpers import signed_in


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> User:
    return make_user(env, "ada@contoso.example", display_name="Ada Lovelace")


def _apps(env: Env) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(SoftwareOathMethod)) or 0)


def _set_up(env: Env, user: User) -> str:
    view = signed_in(env, user)
    with env.db.transaction() as tx:
        started = AuthenticatorAppService(tx, env, view).begin_setup()
    with env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).finish_setup(
            started.ceremony_id, otp.code_at(started.secret, env.clock.now())
        )
    return started.secret


def test_setup_shows_a_qr_code_and_the_secret_for_this_user_and_tenant(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    with env.db.transaction() as tx:
        started = AuthenticatorAppService(tx, env, view).begin_setup()
    assert len(started.secret) == 32
    assert started.uri.startswith("otpauth://totp/Contoso:ada%40contoso.example?secret=")
    assert "issuer=Contoso" in started.uri
    assert started.qr_svg.startswith("<svg") and "<title>" in started.qr_svg
    assert _apps(env) == 0  # nothing is saved before a code confirms it


def test_the_app_is_saved_only_after_a_valid_current_code(env: Env, ada: User) -> None:
    view = signed_in(env, ada, register_by_minutes=10)
    with env.db.transaction() as tx:
        started = AuthenticatorAppService(tx, env, view).begin_setup()
    with pytest.raises(InvalidInput, match="didn't match"), env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).finish_setup(started.ceremony_id, "000000")
    assert _apps(env) == 0
    code = otp.code_at(started.secret, env.clock.now())
    with env.db.transaction() as tx:
        saved = AuthenticatorAppService(tx, env, view).finish_setup(started.ceremony_id, code, "Phone")
    assert saved.display_name == "Phone" and _apps(env) == 1
    with env.db.transaction("read") as tx:
        row = tx.session.scalars(select(SoftwareOathMethod)).one()
        assert started.secret not in row.secret_sealed  # sealed, not stored in the clear
        entry = tx.session.scalars(select(AuditEntry)).all()[-1]
        assert entry.result_reason == "User registered Software Oath Authentication Method"
        assert started.secret not in str(
            [entry.initiated_by, entry.target_resources, entry.additional_details]
        )


def test_the_setup_code_cannot_then_sign_in(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    with env.db.transaction() as tx:
        started = AuthenticatorAppService(tx, env, view).begin_setup()
    code = otp.code_at(started.secret, env.clock.now())
    with env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).finish_setup(started.ceremony_id, code)
    with env.db.transaction() as tx:
        assert accept_code(tx, env, ada.id, code, at=env.clock.now()) is None


def test_a_code_is_accepted_once_and_never_replayed_within_its_window(env: Env, ada: User) -> None:
    secret = _set_up(env, ada)
    env.clock.advance(seconds=30)  # type: ignore[attr-defined]
    code = otp.code_at(secret, env.clock.now())
    with env.db.transaction() as tx:
        assert accept_code(tx, env, ada.id, code, at=env.clock.now()) is not None
    with env.db.transaction() as tx:
        assert accept_code(tx, env, ada.id, code, at=env.clock.now()) is None
    env.clock.advance(seconds=25)  # type: ignore[attr-defined]
    with env.db.transaction() as tx:  # still inside the drift window: still a replay
        assert accept_code(tx, env, ada.id, code, at=env.clock.now()) is None


def test_an_earlier_step_is_refused_after_a_later_one_was_used(env: Env, ada: User) -> None:
    secret = _set_up(env, ada)
    env.clock.advance(seconds=60)  # type: ignore[attr-defined]
    now = env.clock.now()
    with env.db.transaction() as tx:
        assert accept_code(tx, env, ada.id, otp.code_at(secret, now), at=now) is not None
    with env.db.transaction() as tx:
        previous = otp.code_at(secret, now - timedelta(seconds=30))
        assert accept_code(tx, env, ada.id, previous, at=now) is None


def test_codes_outside_one_step_of_drift_are_refused(env: Env, ada: User) -> None:
    secret = _set_up(env, ada)
    env.clock.advance(minutes=5)  # type: ignore[attr-defined]
    now = env.clock.now()
    with env.db.transaction() as tx:
        assert accept_code(tx, env, ada.id, otp.code_at(secret, now - timedelta(seconds=90)), at=now) is None
        assert accept_code(tx, env, ada.id, "12345", at=now) is None
        assert accept_code(tx, env, ada.id, "abcdef", at=now) is None


def test_racing_uses_of_one_code_let_exactly_one_through(env: Env, ada: User) -> None:
    secret = _set_up(env, ada)
    env.clock.advance(seconds=30)  # type: ignore[attr-defined]
    now = env.clock.now()
    code = otp.code_at(secret, now)
    results: list[bool] = []

    def attempt() -> None:
        with env.db.transaction() as tx:
            results.append(accept_code(tx, env, ada.id, code, at=now) is not None)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


def test_a_wrong_code_leaves_the_setup_open_and_an_expired_one_is_refused(env: Env, ada: User) -> None:
    view = signed_in(env, ada)
    with env.db.transaction() as tx:
        started = AuthenticatorAppService(tx, env, view).begin_setup()
    with pytest.raises(InvalidInput), env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).finish_setup(started.ceremony_id, "999999x")
    env.clock.advance(minutes=11)  # type: ignore[attr-defined]
    view = signed_in(env, ada)
    code = otp.code_at(started.secret, env.clock.now())
    with pytest.raises(NotFound), env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).finish_setup(started.ceremony_id, code)
    assert _apps(env) == 0


def test_a_code_only_session_may_not_add_an_app_even_when_it_holds_one(env: Env, ada: User) -> None:
    view = signed_in(env, ada, amr=("otp",), acr="single-factor")
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).begin_setup()
    _set_up(env, ada)
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).begin_setup()


def test_delete_removes_only_the_owners_app(env: Env, ada: User) -> None:
    _set_up(env, ada)
    view = signed_in(env, ada)
    eve = signed_in(env, make_user(env, "eve@contoso.example"))
    with env.db.transaction() as tx:
        (app,) = AuthenticatorAppService(tx, env, view).list()
    with pytest.raises(NotFound), env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, eve).delete(app.id)
    with env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).delete(app.id)
    assert _apps(env) == 0
