"""SignInService and SessionService on a real store: the pass sign-in rules, lockout and sessions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from passbridge.clock import ManualClock
from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import InvalidInput
from passbridge.passes.policy import PolicyService, TapChanges
from passbridge.passes.policy_rules import PolicyState
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import IssuedPass, TapService
from passbridge.services.context import Env, operator
from passbridge.signin.finish import SignedIn
from passbridge.signin.flow import SignInService
from passbridge.signin.rules import CsrfMismatch, FlowExpired, LockedOut, SignInFailed
from passbridge.signin.sessions import SessionService
from passbridge.signin.strategies import Pass
from passbridge.store.models import SignInLogEntry, TemporaryAccessPass, UserSession
from tests.factories import make_app, make_user

IP = "203.0.113.7"


def issue(env: Env, ref: str, **wanted: object) -> IssuedPass:
    with env.db.transaction() as tx:
        return TapService(tx, env, operator()).issue(ref, PassRequest(**wanted))  # type: ignore[arg-type]


def sign_in(env: Env, username: str, value: str, *, ip: str = IP, previous: str | None = None) -> SignedIn:
    service = SignInService(env)
    flow = service.begin()
    flow = service.identify(flow.id, flow.csrf_token, username)
    return service.prove(
        flow.id, flow.csrf_token, Pass(value), ip_address=ip, previous_session_cookie=previous
    )


def log_entries(env: Env) -> list[SignInLogEntry]:
    with env.db.transaction("read") as tx:
        return list(tx.session.scalars(select(SignInLogEntry).order_by(SignInLogEntry.created_at)))


def count(env: Env, model: type[object]) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(model)) or 0)


def set_policy(env: Env, **changes: object) -> None:
    with env.db.transaction() as tx:
        PolicyService(tx, env, operator()).update_tap(TapChanges(**changes))  # type: ignore[arg-type]


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> str:
    return make_user(env, "ada@contoso.example", display_name="Ada Lovelace").user_principal_name


def test_pass_sign_in_creates_a_session_with_tap_amr_and_mfa_strength(env: Env, ada: str) -> None:
    issued = issue(env, ada, is_usable_once=False)
    signed = sign_in(env, ada, issued.value)
    current = SessionService(env).current(signed.cookie_value)
    assert current is not None
    assert current.user_principal_name == ada
    assert current.amr == ("tap", "tap-multi-use", "mfa")
    assert current.acr == "mfa"
    assert signed.needs_setup is True
    [entry] = log_entries(env)
    assert (entry.error_code, entry.user_principal_name, entry.ip_address) == (0, ada, IP)
    assert entry.authentication_details[0]["authenticationMethod"] == "Temporary Access Pass"


def test_the_session_says_whether_a_one_time_or_a_multi_use_pass_proved_it(env: Env, ada: str) -> None:
    once = sign_in(env, ada, issue(env, ada, is_usable_once=True).value)
    current = SessionService(env).current(once.cookie_value)
    assert current is not None and current.amr == ("tap", "tap-one-time", "mfa")
    again = sign_in(env, ada, issue(env, ada, is_usable_once=False).value)
    current = SessionService(env).current(again.cookie_value)
    assert current is not None and current.amr == ("tap", "tap-multi-use", "mfa")


def test_username_is_matched_case_insensitively_and_trimmed(env: Env, ada: str) -> None:
    issued = issue(env, ada)
    assert sign_in(env, "  ADA@Contoso.Example ", issued.value).session.user_principal_name == ada


def test_wrong_unknown_disabled_and_passless_fail_with_the_same_message(env: Env, ada: str) -> None:
    issued = issue(env, ada)
    bob = make_user(env, "bob@contoso.example").user_principal_name
    carol = make_user(env, "carol@contoso.example").user_principal_name
    carol_pass = issue(env, carol).value
    with env.db.transaction() as tx:
        from passbridge.directory.service import DirectoryService

        DirectoryService(tx, env, operator()).set_account_enabled(carol, False)
    messages = []
    for name, value in (
        (ada, issued.value + "x"),
        ("nobody@contoso.example", issued.value),
        (bob, issued.value),
        (carol, carol_pass),
    ):
        with pytest.raises(SignInFailed) as failure:
            sign_in(env, name, value)
        messages.append(failure.value.message)
    assert len(set(messages)) == 1
    assert count(env, UserSession) == 0
    codes = [e.error_code for e in log_entries(env)]
    assert codes == [50126, 50126, 50126, 50057]


def test_one_time_pass_signs_in_once(env: Env, ada: str) -> None:
    issued = issue(env, ada, is_usable_once=True)
    sign_in(env, ada, issued.value)
    with pytest.raises(SignInFailed):
        sign_in(env, ada, issued.value)
    assert count(env, UserSession) == 1


def test_one_time_pass_gives_ten_minutes_to_register(env: Env, ada: str, clock: ManualClock) -> None:
    issued = issue(env, ada, is_usable_once=True, lifetime_minutes=120)
    signed = sign_in(env, ada, issued.value)
    assert signed.session.register_by == clock.now() + timedelta(minutes=10)
    clock.advance(minutes=9, seconds=59)
    assert SessionService(env).current(signed.cookie_value) is not None
    clock.advance(seconds=1)
    assert SessionService(env).current(signed.cookie_value) is None


def test_session_ends_no_later_than_the_pass(env: Env, ada: str, clock: ManualClock) -> None:
    issued = issue(env, ada, is_usable_once=False, lifetime_minutes=60)
    clock.advance(minutes=20)
    signed = sign_in(env, ada, issued.value)
    assert signed.session.expires_at == issued.view.end
    clock.advance(minutes=39, seconds=59)
    assert SessionService(env).current(signed.cookie_value) is not None
    clock.advance(seconds=1)
    assert SessionService(env).current(signed.cookie_value) is None


def test_reusable_pass_refused_when_policy_forces_one_time(env: Env, ada: str) -> None:
    issued = issue(env, ada, is_usable_once=False)
    set_policy(env, is_usable_once=True)
    with pytest.raises(SignInFailed) as failure:
        sign_in(env, ada, issued.value)
    assert "DisabledByPolicy" in failure.value.reason
    assert count(env, UserSession) == 0


def test_pass_refused_when_policy_disabled_or_expired_or_not_started(
    env: Env, ada: str, clock: ManualClock
) -> None:
    issued = issue(env, ada, is_usable_once=False, lifetime_minutes=60)
    set_policy(env, state=PolicyState.DISABLED)
    with pytest.raises(SignInFailed):
        sign_in(env, ada, issued.value)
    set_policy(env, state=PolicyState.ENABLED)
    clock.advance(minutes=60)
    with pytest.raises(SignInFailed):
        sign_in(env, ada, issued.value)
    later = issue(env, ada, start=clock.now() + timedelta(hours=1))
    with pytest.raises(SignInFailed):
        sign_in(env, ada, later.value)
    reasons = [e.failure_reason for e in log_entries(env)]
    assert reasons == [
        "The Temporary Access Pass is not usable: DisabledByPolicy.",
        "The Temporary Access Pass is not usable: Expired.",
        "The Temporary Access Pass is not usable: NotYetValid.",
    ]


def test_lockout_after_threshold_then_released_when_window_passes(
    env: Env, ada: str, clock: ManualClock
) -> None:
    issued = issue(env, ada, is_usable_once=False, lifetime_minutes=480)
    for _ in range(env.settings.lockout_threshold):
        with pytest.raises(SignInFailed):
            sign_in(env, ada, "Wrong-guess-1")
        clock.advance(seconds=10)
    # The right pass is refused too while locked: the lock reveals nothing about the guess.
    with pytest.raises(LockedOut) as locked:
        sign_in(env, ada, issued.value)
    assert "try again later" in locked.value.message
    assert count(env, UserSession) == 0
    assert log_entries(env)[-1].error_code == 50053
    clock.advance(minutes=15)
    assert sign_in(env, ada, issued.value).session.user_principal_name == ada


def test_success_resets_the_users_failure_count(env: Env, ada: str) -> None:
    issued = issue(env, ada, is_usable_once=False)
    for _ in range(env.settings.lockout_threshold - 1):
        with pytest.raises(SignInFailed):
            sign_in(env, ada, "Wrong-guess-1")
    sign_in(env, ada, issued.value)
    for _ in range(env.settings.lockout_threshold - 1):
        with pytest.raises(SignInFailed):
            sign_in(env, ada, "Wrong-guess-1", ip="198.51.100.1")
    assert sign_in(env, ada, issued.value).session.user_principal_name == ada


def test_source_address_is_locked_out_across_usernames(env: Env, tenant: Initialised) -> None:
    threshold = env.settings.lockout_ip_threshold
    env.settings.lockout_ip_threshold = 3
    try:
        for n in range(3):
            with pytest.raises(SignInFailed):
                sign_in(env, f"nobody{n}@contoso.example", "Wrong-guess-1")
        with pytest.raises(LockedOut):
            sign_in(env, "someone-else@contoso.example", "Wrong-guess-1")
    finally:
        env.settings.lockout_ip_threshold = threshold


def test_csrf_token_must_match_the_flow(env: Env, ada: str) -> None:
    issued = issue(env, ada)
    service = SignInService(env)
    flow = service.begin()
    with pytest.raises(CsrfMismatch):
        service.identify(flow.id, "forged", ada)
    flow = service.identify(flow.id, flow.csrf_token, ada)
    with pytest.raises(CsrfMismatch):
        service.prove(flow.id, None, Pass(issued.value), ip_address=IP)
    assert log_entries(env) == []


def test_flow_expires_and_cannot_be_finished_twice(env: Env, ada: str, clock: ManualClock) -> None:
    issued = issue(env, ada, is_usable_once=False)
    service = SignInService(env)
    flow = service.begin()
    flow = service.identify(flow.id, flow.csrf_token, ada)
    service.prove(flow.id, flow.csrf_token, Pass(issued.value), ip_address=IP)
    with pytest.raises(FlowExpired):
        service.prove(flow.id, flow.csrf_token, Pass(issued.value), ip_address=IP)
    stale = service.begin()
    clock.advance(minutes=env.settings.flow_minutes)
    with pytest.raises(FlowExpired):
        service.identify(stale.id, stale.csrf_token, ada)


def test_sign_in_rotates_the_previous_session_and_logout_ends_it(env: Env, ada: str) -> None:
    issued = issue(env, ada, is_usable_once=False)
    first = sign_in(env, ada, issued.value)
    second = sign_in(env, ada, issued.value, previous=first.cookie_value)
    sessions = SessionService(env)
    assert sessions.current(first.cookie_value) is None
    assert sessions.current(second.cookie_value) is not None
    assert sessions.end(second.cookie_value) is True
    assert sessions.current(second.cookie_value) is None


def test_session_csrf_token_is_bound_to_the_session(env: Env, ada: str) -> None:
    issued = issue(env, ada, is_usable_once=False)
    sessions = SessionService(env)
    one = sign_in(env, ada, issued.value).session
    two = sign_in(env, ada, issued.value).session
    assert sessions.check_csrf(one, sessions.csrf_token(one))
    assert not sessions.check_csrf(one, sessions.csrf_token(two))
    assert not sessions.check_csrf(one, None)


def test_return_to_must_be_local_or_a_registered_redirect_uri(env: Env, tenant: Initialised) -> None:
    make_app(env, "Payroll", redirect_uris=("https://payroll.contoso.example/callback",))
    service = SignInService(env)
    assert service.begin(return_to="/apps").return_to == "/apps"
    assert (
        service.begin(return_to="https://payroll.contoso.example/callback?x=1").return_to
        == "https://payroll.contoso.example/callback?x=1"
    )
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        with pytest.raises(InvalidInput):
            service.begin(return_to=bad)


def test_sign_in_log_never_holds_the_pass(env: Env, ada: str) -> None:
    issued = issue(env, ada, is_usable_once=False)
    sign_in(env, ada, issued.value)
    with pytest.raises(SignInFailed):
        sign_in(env, ada, issued.value[::-1] + "Z")
    with env.db.transaction("read") as tx:
        rows = tx.session.execute(select(SignInLogEntry.__table__)).all()
    assert issued.value not in repr(rows)
    assert issued.value[::-1] + "Z" not in repr(rows)


def test_racing_sign_ins_consume_a_one_time_pass_exactly_once(env: Env, ada: str) -> None:
    issued = issue(env, ada, is_usable_once=True)
    service = SignInService(env)
    flows = []
    for _ in range(8):
        flow = service.begin()
        flows.append(service.identify(flow.id, flow.csrf_token, ada))
    outcomes: list[str] = []
    barrier = threading.Barrier(len(flows))

    def attempt(flow_id: str, csrf: str) -> None:
        barrier.wait()
        try:
            service.prove(flow_id, csrf, Pass(issued.value), ip_address=IP)
            outcomes.append("session")
        except SignInFailed:
            outcomes.append("failed")

    threads = [threading.Thread(target=attempt, args=(f.id, f.csrf_token)) for f in flows]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["failed"] * 7 + ["session"]
    assert count(env, UserSession) == 1
    with env.db.transaction("read") as tx:
        used = select(TemporaryAccessPass.used_at).where(TemporaryAccessPass.id == issued.view.id)
        assert tx.session.scalar(used) is not None
