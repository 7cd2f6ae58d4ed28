"""The strategy contract of signin/ (strategies.py, flow.py's one handler, finish.py), on both databases:
every way to prove is refused the same way, and only `finish()` opens a session."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

import passbridge
from passbridge.directory.tenant import Initialised
from passbridge.methods import strength
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.services.context import Env, operator
from passbridge.signin import rules
from passbridge.signin.flow import FlowView, SignInService
from passbridge.signin.rules import FlowState, Method, SignInFailed
from passbridge.signin.strategies import Code, Pass, Passkey
from passbridge.store.models import SignInFlow, SignInLogEntry, SignInThrottle, UserSession
from tests.factories import make_user
from tests.softkey import SoftAuthenticator

IP = "198.51.100.23"
ORIGIN = "http://localhost:8000"
PACKAGE = Path(passbridge.__file__).parent


def _count(env: Env, model: type[object]) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(model)) or 0)


def _throttle_keys(env: Env) -> dict[str, int]:
    with env.db.transaction("read") as tx:
        return {row.key: row.attempts for row in tx.session.scalars(select(SignInThrottle))}


def _last_log(env: Env) -> SignInLogEntry:
    with env.db.transaction("read") as tx:
        entries = tx.session.scalars(select(SignInLogEntry).order_by(SignInLogEntry.created_at)).all()
    return entries[-1]


def _flow_state(env: Env, flow_id: str) -> str:
    with env.db.transaction("read") as tx:
        return str(tx.session.scalar(select(SignInFlow.state).where(SignInFlow.id == flow_id)))


def _named_flow(service: SignInService, username: str) -> FlowView:
    flow = service.begin()
    return service.identify(flow.id, flow.csrf_token, username)


def _wrong_pass(service: SignInService, flow: FlowView) -> Pass | Code | Passkey:
    return Pass("WRONG-PASS-VALUE")


def _wrong_code(service: SignInService, flow: FlowView) -> Pass | Code | Passkey:
    return Code("000000")


def _stranger_passkey(service: SignInService, flow: FlowView) -> Pass | Code | Passkey:
    stranger = SoftAuthenticator(ORIGIN)  # a real authenticator, its passkey registered nowhere
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})
    started = service.passkey_options(flow.id, flow.csrf_token)
    return Passkey(started.ceremony_id, stranger.get(started.options))


REFUSED: dict[str, tuple[Callable[[SignInService, FlowView], Pass | Code | Passkey], str]] = {
    "pass": (_wrong_pass, "Temporary Access Pass"),
    "code": (_wrong_code, "OATH verification code"),
    "passkey": (_stranger_passkey, "Passkey (device-bound)"),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_a_refused_proof_of_every_strategy_is_logged_and_opens_no_session(
    env: Env, tenant: Initialised, kind: str
) -> None:
    make_user(env, "ada@contoso.example")
    service = SignInService(env)
    flow = _named_flow(service, "ada@contoso.example")
    build, log_method = REFUSED[kind]
    strategy = build(service, flow)
    with pytest.raises(SignInFailed) as refused:
        service.prove(flow.id, flow.csrf_token, strategy, ip_address=IP)
    assert refused.value.message == SignInFailed.GENERIC
    assert _count(env, UserSession) == 0
    assert _flow_state(env, flow.id) == FlowState.PROVE  # the flow can still be finished
    entry = _last_log(env)
    assert entry.error_code == 50126 and entry.ip_address == IP
    assert entry.authentication_details[0]["authenticationMethod"] == log_method


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_only_guessable_strategies_spend_throttle_attempts(env: Env, tenant: Initialised, kind: str) -> None:
    make_user(env, "ada@contoso.example")
    service = SignInService(env)
    flow = _named_flow(service, "ada@contoso.example")
    build, _ = REFUSED[kind]
    strategy = build(service, flow)
    with pytest.raises(SignInFailed):
        service.prove(flow.id, flow.csrf_token, strategy, ip_address=IP)
    counters = _throttle_keys(env)
    if strategy.throttled:
        # Reserved before the check: the typed name's, the source's and the account's counters.
        assert counters == {
            "account:ada@contoso.example": 1,
            "name:ada@contoso.example": 1,
            f"source:{IP}": 1,
        }
    else:
        assert counters == {}  # a passkey cannot be guessed: it never touches the throttle


def test_a_refusal_in_commit_rolls_back_the_flow_and_opens_no_session(env: Env, tenant: Initialised) -> None:
    """A one-time pass used by another flow between this flow's check and its commit: the flow's move to
    done is undone with the refusal, and the refusal is logged."""
    make_user(env, "ada@contoso.example")
    with env.db.transaction() as tx:
        issued = TapService(tx, env, operator()).issue(
            "ada@contoso.example", PassRequest(is_usable_once=True)
        )
    service = SignInService(env)
    first, second = _named_flow(service, "ada@contoso.example"), _named_flow(service, "ada@contoso.example")
    service.prove(first.id, first.csrf_token, Pass(issued.value), ip_address=IP)
    with pytest.raises(SignInFailed):
        service.prove(second.id, second.csrf_token, Pass(issued.value), ip_address=IP)
    assert _count(env, UserSession) == 1
    assert _flow_state(env, second.id) == FlowState.PROVE
    assert "not usable" in (_last_log(env).failure_reason or "")


def _calls_to(name: str) -> set[str]:
    """The package's modules that call or reference `name` (an attribute or a bare name)."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr == name) or (
                isinstance(node, ast.Name) and node.id == name
            ):
                found.add(path.relative_to(PACKAGE).as_posix())
    return found


def test_finish_is_the_only_code_that_opens_a_session() -> None:
    assert _calls_to("add_session") == {"signin/finish.py"}
    assert _calls_to("finish") == {"signin/flow.py"}  # called by the one handler only


def test_every_strategy_declares_its_method_and_whether_it_is_guessable() -> None:
    strategies = {Pass: (Method.TEMPORARY_ACCESS_PASS, True), Code: (Method.AUTHENTICATOR_APP, True)}
    strategies[Passkey] = (Method.PASSKEY, False)
    for strategy, (method, guessable) in strategies.items():
        assert strategy.method is method and strategy.throttled is guessable
        for step in ("read", "who", "check", "commit"):
            assert callable(getattr(strategy, step))
    assert {s.method for s in strategies} == set(Method)


def test_sign_in_has_one_enum_of_method_kinds() -> None:
    assert strength.Factor is Method
    assert rules.log_name(Method.PASSKEY, synced=True) == "Passkey (synced)"
    assert rules.log_name(Method.TEMPORARY_ACCESS_PASS) == "Temporary Access Pass"


def test_a_strategy_never_shows_the_secret_it_carries() -> None:
    assert "Secret-Pass-123" not in repr(Pass("Secret-Pass-123"))
    assert "654321" not in repr(Code("654321"))
