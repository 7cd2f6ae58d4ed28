"""The provider's rules without HTTP: scopes, the resume mark, when a session may be used, apps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from passbridge.clock import ManualClock
from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import InvalidInput
from passbridge.methods.strength import BUILT_IN_BY_STRENGTH, Mode, StrengthPolicy
from passbridge.services.context import Env
from passbridge.signin.rules import Strength
from passbridge.signin.sessions import SessionView
from passbridge.tokens import authorize, oidc
from tests.factories import make_app

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
SESSION = SessionView(
    id="s", user_id="u", user_principal_name="ada@contoso.example", display_name="Ada",
    auth_time=NOW - timedelta(minutes=10), amr=("tap", "mfa"), acr="mfa",
    expires_at=NOW + timedelta(hours=1), register_by=None, pass_id="p",
)  # fmt: skip
PARAMS = [("client_id", "c"), ("scope", "openid"), ("state", "xyz")]


@pytest.mark.parametrize(
    ("asked", "granted"),
    [
        ("openid profile", "openid profile"),
        ("openid User.Read user.read", "openid User.Read"),
        ("https://graph.microsoft.com/User.Read", "User.Read"),
        (
            "00000003-0000-0000-c000-000000000000/UserAuthenticationMethod.ReadWrite.All",
            "UserAuthenticationMethod.ReadWrite.All",
        ),
        ("http://localhost:8000/Group.Read.All offline_access", "Group.Read.All offline_access"),
    ],
)
def test_graph_scopes_are_granted_by_their_short_names(env: Env, asked: str, granted: str) -> None:
    assert oidc.normalise_scope(env, asked) == granted


@pytest.mark.parametrize(
    "asked",
    [
        "Mail.Send",
        "https://evil.example/User.Read",
        "OpenID",
        "https://graph.microsoft.com/openid",
        "https://graph.microsoft.com/.default",
    ],
)
def test_scopes_we_do_not_serve_are_refused(env: Env, asked: str) -> None:
    with pytest.raises(oidc.ScopeRefused) as refused:
        oidc.normalise_scope(env, f"openid {asked}")
    assert refused.value.scope == asked


def test_resume_mark_round_trips_and_binds_time_and_parameters(env: Env, clock: ManualClock) -> None:
    requested = clock.now()
    query = authorize.resume_query(env, PARAMS, requested)
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query)
    assert authorize.split_resume(env, pairs) == (PARAMS, requested)
    moved = [(k, "other" if k == "state" else v) for k, v in pairs]
    assert authorize.split_resume(env, moved) == (
        [(k, "other" if k == "state" else v) for k, v in PARAMS],
        None,
    )
    clock.advance(minutes=env.settings.flow_minutes + 2)
    assert authorize.split_resume(env, pairs)[1] is None


def test_no_session_means_sign_in() -> None:
    decision = authorize.decide(None, prompts=[], max_age=None, resumed_at=None, now=NOW)
    assert decision == authorize.Decision(sign_in=True, force=False)


def test_a_session_is_used_unless_prompt_or_max_age_demand_more() -> None:
    assert not authorize.decide(SESSION, prompts=[], max_age=None, resumed_at=None, now=NOW).sign_in
    assert not authorize.decide(SESSION, prompts=[], max_age=600, resumed_at=None, now=NOW).sign_in
    assert authorize.decide(SESSION, prompts=[], max_age=599, resumed_at=None, now=NOW).force
    assert authorize.decide(SESSION, prompts=["login"], max_age=None, resumed_at=None, now=NOW).force
    assert authorize.decide(SESSION, prompts=["select_account"], max_age=None, resumed_at=None, now=NOW).force


def test_a_forced_sign_in_is_satisfied_only_by_a_session_from_after_the_request() -> None:
    requested = NOW - timedelta(minutes=1)
    older = authorize.decide(SESSION, prompts=["login"], max_age=0, resumed_at=requested, now=NOW)
    assert older.sign_in
    newer = replace(SESSION, auth_time=requested + timedelta(milliseconds=1))
    assert not authorize.decide(newer, prompts=["login"], max_age=0, resumed_at=requested, now=NOW).sign_in


def test_public_clients_have_no_secret_and_need_a_redirect_uri(env: Env, tenant: Initialised) -> None:
    created = make_app(env, "SPA", redirect_uris=("http://localhost:3000/cb",), public=True)
    assert created.client_secret is None
    assert created.application.secret_hash == ""
    assert created.application.is_public_client is True
    with pytest.raises(InvalidInput):
        make_app(env, "Nowhere", public=True)
    with pytest.raises(InvalidInput):
        make_app(
            env,
            "Daemon",
            redirect_uris=("http://localhost:3000/cb",),
            permissions=("User.Read.All",),
            public=True,
        )


def test_an_apps_required_strength_is_essential_and_acr_values_only_ask() -> None:
    strict = BUILT_IN_BY_STRENGTH[Strength.PHISHING_RESISTANT_MFA]
    assert authorize.wanted_strength("phishing-resistant-mfa", None) == authorize.Wanted(
        (strict,), essential=True
    )
    assert authorize.wanted_strength(strict.id, None) == authorize.Wanted((strict,), essential=True)
    assert authorize.wanted_strength(None, "mfa phishing-resistant-mfa urn:unknown") == authorize.Wanted(
        (BUILT_IN_BY_STRENGTH[Strength.MFA], strict), essential=False
    )
    assert authorize.wanted_strength(None, "urn:unknown") is None
    assert authorize.wanted_strength(None, None) is None


def test_an_app_requiring_a_strength_that_no_longer_exists_admits_no_sign_in() -> None:
    wanted = authorize.wanted_strength("5b0a8a63-0000-4000-8000-000000000000", None)
    assert wanted is not None and wanted.essential
    strong = replace(SESSION, amr=("hwk", "mfa"), acr="phishing-resistant-mfa", auth_time=NOW)
    refused = authorize.decide(strong, prompts=[], max_age=None, resumed_at=NOW, now=NOW, wanted=wanted)
    assert refused.too_weak is not None and not refused.sign_in


def test_a_session_below_the_wanted_strength_signs_in_again_then_is_refused_only_if_essential() -> None:
    policy = BUILT_IN_BY_STRENGTH[Strength.PHISHING_RESISTANT_MFA]
    strict = authorize.Wanted((policy,), essential=True)
    asked = replace(strict, essential=False)
    before = dict(prompts=[], max_age=None, now=NOW)
    assert authorize.decide(SESSION, resumed_at=None, wanted=strict, **before).force  # type: ignore[arg-type]
    fresh = replace(SESSION, auth_time=NOW)
    refused = authorize.decide(fresh, resumed_at=NOW, wanted=strict, **before)  # type: ignore[arg-type]
    assert refused.too_weak == policy and not refused.sign_in
    granted = authorize.decide(fresh, resumed_at=NOW, wanted=asked, **before)  # type: ignore[arg-type]
    assert not granted.sign_in and granted.too_weak is None
    strong = replace(SESSION, amr=("hwk", "mfa"), acr="phishing-resistant-mfa")
    assert not authorize.decide(strong, resumed_at=None, wanted=strict, **before).sign_in  # type: ignore[arg-type]


def test_a_strength_that_allows_only_one_time_passes_steps_up_a_multi_use_pass_session() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    only_once = StrengthPolicy(
        "7d3c1f52-9a1e-4c39-9d0e-1a2b3c4d5e6f",
        "One-time pass or passkey",
        "",
        "custom",
        (frozenset({Mode.TAP_ONE_TIME}), frozenset({Mode.FIDO2})),
        now,
        now,
    )
    wanted = authorize.Wanted((only_once,), essential=True)
    multi = replace(SESSION, amr=("tap", "tap-multi-use", "mfa"), acr="mfa")
    once = replace(SESSION, amr=("tap", "tap-one-time", "mfa"), acr="mfa")
    before = dict(prompts=[], max_age=None, now=NOW)
    assert authorize.decide(multi, resumed_at=None, wanted=wanted, **before).force  # type: ignore[arg-type]
    fresh_multi = replace(multi, auth_time=NOW)
    assert authorize.decide(fresh_multi, resumed_at=NOW, wanted=wanted, **before).too_weak == only_once  # type: ignore[arg-type]
    assert not authorize.decide(once, resumed_at=None, wanted=wanted, **before).sign_in  # type: ignore[arg-type]
    # A pass session from before the kinds were recorded counts as multi-use.
    assert authorize.decide(SESSION, resumed_at=None, wanted=wanted, **before).force  # type: ignore[arg-type]
    found = {only_once.id: only_once}
    asked = authorize.wanted_strength(None, f"urn:x {only_once.id}", lambda ref: found.get(ref))
    assert asked == authorize.Wanted((only_once,), essential=False)
