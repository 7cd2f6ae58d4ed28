"""Token service rules: client lookup, the client-credentials scope, and key rotation without downtime."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from passbridge.clock import ManualClock
from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import InvalidInput, PermissionDenied
from passbridge.security import keys as jose
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import AuditEntry, SigningKey
from passbridge.tokens import keys as key_service
from passbridge.tokens import service as tokens
from tests.factories import make_app


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def issue(env: Env, app_id: str) -> str:
    with env.db.transaction("read") as tx:
        client = tokens.find_client(tx, app_id)
        assert client is not None
        return tokens.issue_app_token(tx, env, client).access_token


def verify(env: Env, token: str) -> Principal:
    with env.db.transaction("read") as tx:
        return tokens.principal_from_token(tx, env, token)


def rotate(env: Env, **kwargs: timedelta) -> str:
    with env.db.transaction() as tx:
        return key_service.rotate(tx, env, operator(), **kwargs).kid


@pytest.mark.parametrize(
    ("scope", "accepted"),
    [
        ("http://localhost:8000/.default", True),
        ("https://graph.microsoft.com/.default", True),
        ("00000003-0000-0000-c000-000000000000/.default", True),
        ("  https://graph.microsoft.com/.default ", True),
        ("http://localhost:8000/.default https://graph.microsoft.com/.default", False),
        ("http://localhost:8000", False),
        ("https://graph.microsoft.com/User.Read.All", False),
        ("http://localhost:8000//.default", False),
        ("https://evil.example/.default", False),
        ("", False),
    ],
)
def test_client_credentials_take_exactly_one_known_default_scope(
    env: Env, scope: str, accepted: bool
) -> None:
    assert tokens.client_credentials_scope_ok(env, scope) is accepted


def test_find_client_matches_app_id_in_any_case_and_ignores_non_guids(env: Env, tenant: Initialised) -> None:
    created = make_app(env, "Lookup", permissions=("User.Read.All",))
    app_id = created.application.app_id
    with env.db.transaction("read") as tx:
        found = tokens.find_client(tx, app_id.upper())
        assert found is not None
        assert (found.id, found.app_id, found.permissions) == (
            created.application.id,
            app_id,
            ("User.Read.All",),
        )
        assert tokens.find_client(tx, created.application.id) is None  # the object id is not a client id
        assert tokens.find_client(tx, "not-a-guid") is None
        assert tokens.find_client(tx, app_id + "0") is None
    assert tokens.client_secret_matches(env, found, created.client_secret)
    assert not tokens.client_secret_matches(env, found, created.client_secret + "x")
    assert created.client_secret not in repr(found) and found.secret_hash not in repr(found)


def test_a_removed_application_gets_no_principal_even_with_a_live_token(
    env: Env, tenant: Initialised
) -> None:
    created = make_app(env, "Doomed", permissions=("User.Read.All",))
    token = issue(env, created.application.app_id)
    assert verify(env, token).kind == "application"
    with env.db.transaction() as tx:
        tx.session.delete(tx.session.get(type(created.application), created.application.id))
    with pytest.raises(tokens.TokenRejected):
        verify(env, token)


def test_token_signed_before_rotation_verifies_after_and_new_key_signs_once_active(
    env: Env, tenant: Initialised, clock: ManualClock
) -> None:
    app_id = make_app(env, "Rotating", permissions=("User.Read.All",)).application.app_id
    tokens.reset_key_cache(env)
    before = issue(env, app_id)
    old_kid = kid_of(before)

    new_kid = rotate(env, publish_ahead=timedelta(minutes=10), keep_old_for=timedelta(hours=2))
    tokens.reset_key_cache(env)  # another process starts after the rotation
    with env.db.transaction("read") as tx:
        published = [k["kid"] for k in key_service.public_jwks(tx, env)]
    assert sorted(published) == sorted([old_kid, new_kid])
    # Published ahead, not signing yet.
    assert kid_of(issue(env, app_id)) == old_kid

    clock.advance(minutes=11)
    tokens.reset_key_cache(env)
    after = issue(env, app_id)
    assert kid_of(after) == new_kid
    assert verify(env, before).app_id == app_id
    assert verify(env, after).app_id == app_id


def test_old_token_verifies_until_it_expires_while_the_new_key_signs(
    env: Env, tenant: Initialised, clock: ManualClock
) -> None:
    app_id = make_app(env, "Rotating", permissions=("User.Read.All",)).application.app_id
    tokens.reset_key_cache(env)
    before = issue(env, app_id)
    rotate(env, publish_ahead=timedelta(minutes=10), keep_old_for=timedelta(hours=1))
    clock.advance(minutes=59, seconds=59)
    tokens.reset_key_cache(env)
    assert kid_of(issue(env, app_id)) != kid_of(before)
    assert verify(env, before).app_id == app_id
    clock.advance(seconds=1)
    with pytest.raises(tokens.TokenRejected, match="expired"):
        verify(env, before)


def test_retired_key_is_no_longer_published(env: Env, tenant: Initialised, clock: ManualClock) -> None:
    with env.db.transaction("read") as tx:
        old = [k["kid"] for k in key_service.public_jwks(tx, env)]
    rotate(env, publish_ahead=timedelta(minutes=10), keep_old_for=timedelta(hours=1))
    clock.advance(minutes=70, seconds=1)
    with env.db.transaction("read") as tx:
        published = [k["kid"] for k in key_service.public_jwks(tx, env)]
    assert len(published) == 1 and published != old


def test_a_process_with_a_stale_snapshot_learns_a_new_kid_from_the_token(
    env: Env, tenant: Initialised, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_id = make_app(env, "Rotating", permissions=("User.Read.All",)).application.app_id
    tokens.reset_key_cache(env)
    old = issue(env, app_id)  # this process now holds a snapshot with the old key only
    new_kid = rotate(env, publish_ahead=timedelta(minutes=10), keep_old_for=timedelta(hours=2))
    clock.advance(seconds=1)  # the snapshot is still fresh (KEY_SNAPSHOT_TTL) by this clock
    # Another process, whose snapshot already has the new key, signs with it.
    with env.db.transaction("read") as tx:
        row = tx.session.get(SigningKey, new_kid)
        assert row is not None
        private = jose.load_private(env.keeper, new_kid, row.private_jwk_sealed)
    token = jose.sign({**claims_of(old), "iat": int(clock.now().timestamp())}, private)

    monkeypatch.setattr(tokens, "UNKNOWN_KID_REFRESH_INTERVAL", 3600.0)
    with pytest.raises(tokens.TokenRejected):
        verify(env, token)  # refreshing on every unknown kid is rate-limited
    monkeypatch.setattr(tokens, "UNKNOWN_KID_REFRESH_INTERVAL", 0.0)
    assert verify(env, token).app_id == app_id


def test_rotation_refuses_too_short_windows_and_is_audited(env: Env, tenant: Initialised) -> None:
    with pytest.raises(InvalidInput):
        rotate(env, publish_ahead=timedelta(seconds=10), keep_old_for=timedelta(hours=2))
    with pytest.raises(InvalidInput):
        rotate(env, publish_ahead=timedelta(minutes=10), keep_old_for=timedelta(minutes=30))
    kid = rotate(env, publish_ahead=timedelta(minutes=10), keep_old_for=timedelta(hours=2))
    with env.db.transaction("read") as tx:
        entries = list(
            tx.session.scalars(
                select(AuditEntry).where(AuditEntry.activity_display_name == "Rotate token signing key")
            )
        )
        assert [e.target_resources[0]["id"] for e in entries] == [kid]
        assert entries[0].category == "KeyManagement"
        with pytest.raises(PermissionDenied):
            key_service.rotate(
                tx,
                env,
                Principal(kind="application", id="a", display_name="app"),
                publish_ahead=timedelta(hours=1),
                keep_old_for=timedelta(hours=2),
            )


def test_a_recently_seen_application_expires_from_the_cache_by_the_injected_clock(
    env: Env, tenant: Initialised, clock: ManualClock
) -> None:
    app_id = make_app(env, "Cached", permissions=("User.Read.All",)).application.app_id
    token = issue(env, app_id)
    assert verify(env, token).app_id == app_id  # the store was read: the app is remembered
    remembered = tokens.principal_without_store(env, token)
    assert remembered is not None and remembered.app_id == app_id
    clock.advance(seconds=tokens.APP_CHECK_TTL)
    assert tokens.principal_without_store(env, token) is None  # stale by the environment's clock
    clock.advance(seconds=-2 * tokens.APP_CHECK_TTL)
    assert tokens.principal_without_store(env, token) is None  # a clock moved back trusts nothing


def test_the_key_snapshot_expires_by_the_injected_clock(
    env: Env, tenant: Initialised, clock: ManualClock
) -> None:
    app_id = make_app(env, "Snapshot", permissions=("User.Read.All",)).application.app_id
    issue(env, app_id)  # takes a snapshot of the keys
    new_kid = rotate(env, publish_ahead=timedelta(minutes=10), keep_old_for=timedelta(hours=2))
    assert new_kid not in [k.kid for k in env.token_cache.keys]
    clock.advance(seconds=tokens.KEY_SNAPSHOT_TTL - 1)
    issue(env, app_id)
    assert new_kid not in [k.kid for k in env.token_cache.keys]  # still fresh: not read again
    clock.advance(seconds=1)
    issue(env, app_id)
    assert new_kid in [k.kid for k in env.token_cache.keys]


def test_two_environments_in_one_process_share_no_token_cache(
    env: Env, tenant: Initialised, clock: ManualClock
) -> None:
    app_id = make_app(env, "Shared", permissions=("User.Read.All",)).application.app_id
    token = issue(env, app_id)
    verify(env, token)
    assert tokens.principal_without_store(env, token) is not None
    other = Env(env.settings, env.db, ManualClock(clock.now()), env.keeper)
    assert tokens.principal_without_store(other, token) is None
    assert verify(other, token).app_id == app_id
