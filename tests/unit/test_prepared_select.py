"""fastpath/prepared.py: a select run on the driver's cursor gives what SQLAlchemy's execute gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from sqlalchemy import bindparam, column, select, table
from sqlalchemy.exc import DBAPIError

from passbridge import fastpath
from passbridge.directory.tenant import Initialised
from passbridge.fastpath.prepared import PreparedSelect
from passbridge.passes import policy_queries as policy_store
from passbridge.passes import queries as tap_store
from passbridge.passes.policy_rules import ALL_USERS, TapPolicy, Target
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.services.context import Env, operator
from passbridge.store.models import TapPolicyRow, TemporaryAccessPass, User
from tests.factories import make_user


class HolderRow(NamedTuple):
    user_id: str
    enabled: bool
    start_at: datetime
    used_at: datetime | None
    once: bool


class TargetsRow(NamedTuple):
    targets: list[dict[str, object]]
    at: datetime


class IdRow(NamedTuple):
    id: str


class UpnRow(NamedTuple):
    upn: str


class NameRow(NamedTuple):
    name: str


@pytest.fixture(autouse=True, params=["fast", "plain"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs on the driver's cursor and on SQLAlchemy's execute (PASSBRIDGE_FASTPATH=0)."""
    fastpath.configure(True, without=() if request.param == "fast" else ["prepared"])
    yield request.param
    fastpath.configure(fastpath.setting_from_environment(), without=())


@pytest.fixture
def holder(env: Env, tenant: Initialised) -> Iterator[User]:
    user = make_user(env, "holder@contoso.example")
    with env.db.transaction() as tx:
        TapService(tx, env, operator()).issue(
            user.id, PassRequest(env.clock.now() + timedelta(minutes=5), 60, True)
        )
    yield user


def test_prepared_rows_equal_sqlalchemys_rows_column_for_column(env: Env, holder: User) -> None:
    statement = (
        select(
            User.id.label("user_id"),
            User.account_enabled.label("enabled"),
            TemporaryAccessPass.start_at.label("start_at"),
            TemporaryAccessPass.used_at.label("used_at"),
            TemporaryAccessPass.is_usable_once.label("once"),
        )
        .join(TemporaryAccessPass, TemporaryAccessPass.user_id == User.id)
        .where(User.id == bindparam("ref"))
    )
    with env.db.transaction("read") as tx:
        expected = tx.execute(statement, {"ref": holder.id}).one()
        got = PreparedSelect(statement, HolderRow).first(tx, ref=holder.id)
    assert got is not None and tuple(got) == tuple(expected)
    assert type(got) is HolderRow
    assert got._fields == ("user_id", "enabled", "start_at", "used_at", "once")
    assert got.enabled is True and got.once is True and got.used_at is None
    assert isinstance(got.start_at, datetime)


def test_literal_binds_and_json_columns_come_back_as_sqlalchemy_gives_them(env: Env, holder: User) -> None:
    with env.db.transaction() as tx:
        policy_store.save(tx, TapPolicy(include_targets=(Target("group", ALL_USERS),)), now=env.clock.now())
    statement = select(TapPolicyRow.include_targets.label("targets"), TapPolicyRow.last_modified.label("at"))
    statement = statement.where(TapPolicyRow.id == "TemporaryAccessPass")  # an anonymous bind
    with env.db.transaction("read") as tx:
        expected = tx.execute(statement).one()
        got = PreparedSelect(statement, TargetsRow).first(tx)
    assert got is not None and got.targets == expected.targets and isinstance(got.targets, list)
    assert got.at == expected.at


def test_no_row_is_none_and_all_lists_every_row(env: Env, holder: User) -> None:
    make_user(env, "second@contoso.example")
    by_id = PreparedSelect(select(User.id.label("id")).where(User.id == bindparam("ref")), IdRow)
    everyone = PreparedSelect(select(User.user_principal_name.label("upn")).order_by(User.upn_key), UpnRow)
    with env.db.transaction("read") as tx:
        assert by_id.first(tx, ref="00000000-0000-0000-0000-000000000000") is None
        upns = [row.upn for row in everyone.all(tx)]
    assert "holder@contoso.example" in upns and "second@contoso.example" in upns


def test_prepared_select_inside_a_unit_sees_the_units_pending_changes(env: Env, tenant: Initialised) -> None:
    user = make_user(env, "pending@contoso.example")
    with env.db.transaction() as tx:
        row = tx.session.get(User, user.id)
        assert row is not None
        row.display_name = "Renamed in the unit"
        found = PreparedSelect(
            select(User.display_name.label("name")).where(User.id == bindparam("ref")), NameRow
        ).first(tx, ref=user.id)
        tx.session.rollback()
    assert found is not None and found.name == "Renamed in the unit"


def test_driver_errors_surface_as_sqlalchemys(env: Env, tenant: Initialised) -> None:
    broken = PreparedSelect(select(column("id").label("id")).select_from(table("no_such_table")), IdRow)
    with env.db.transaction("read") as tx, pytest.raises(DBAPIError):
        broken.first(tx)


def test_user_methods_finds_the_user_by_upn_in_any_case_with_their_pass(env: Env, holder: User) -> None:
    with env.db.transaction("read") as tx:
        found = tap_store.user_methods(tx, holder.user_principal_name.upper())
    assert found is not None and found.user_id == holder.id
    assert found.tap is not None and found.tap.is_usable_once and found.tap.lifetime_minutes == 60
    assert found.tap.start_at.tzinfo == UTC
    assert found.tap.start_at == env.clock.now() + timedelta(minutes=5)


def test_a_row_type_must_name_the_selects_labels_in_order() -> None:
    statement = select(User.id.label("id"), User.display_name.label("name"))
    with pytest.raises(TypeError, match="NameRow has fields"):
        PreparedSelect(statement, NameRow)
