"""fastpath/prepared.py's PreparedWrite: a write on the driver's cursor stores what SQLAlchemy would store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import bindparam, insert, select, update

from passbridge import fastpath
from passbridge.directory.tenant import Initialised
from passbridge.fastpath.prepared import PreparedWrite
from passbridge.services.context import Env
from passbridge.store.models import RefreshTokenRow

INSERT = PreparedWrite(insert(RefreshTokenRow))
USE = PreparedWrite(
    update(RefreshTokenRow)
    .where(RefreshTokenRow.id == bindparam("token_id"), RefreshTokenRow.used_at.is_(None))
    .values(used_at=bindparam("now"))
)


@pytest.fixture(autouse=True, params=["fast", "plain"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs on the driver's cursor and on SQLAlchemy's execute (PASSBRIDGE_FASTPATH=0)."""
    fastpath.configure(True, without=() if request.param == "fast" else ["prepared"])
    yield request.param
    fastpath.configure(fastpath.setting_from_environment(), without=())


def values(env: Env, user_id: str) -> dict[str, object]:
    now = env.clock.now()
    return {
        "id": str(uuid.uuid4()),
        "token_hash": uuid.uuid4().hex,
        "family_id": str(uuid.uuid4()),
        "client_id": str(uuid.uuid4()),
        "user_id": user_id,
        "session_id": None,
        "scope": "openid offline_access",
        "auth_time": now - timedelta(minutes=5),
        "amr": ["tap", "mfa"],
        "acr": "mfa",
        "not_after": now + timedelta(hours=8),
        "created_at": now,
        "expires_at": now + timedelta(hours=8),
        "used_at": None,
        "revoked_at": None,
    }


def test_an_inserted_row_reads_back_as_sqlalchemy_reads_it(env: Env, tenant: Initialised) -> None:
    row = values(env, tenant.admin.id)
    with env.db.transaction() as tx:
        assert INSERT.run(tx, **row) == 1
    with env.db.transaction("read") as tx:
        stored = tx.session.get(RefreshTokenRow, row["id"])
        assert stored is not None
        assert {name: getattr(stored, name) for name in row} == row


def test_a_conditional_update_counts_only_the_rows_it_changed(env: Env, tenant: Initialised) -> None:
    row = values(env, tenant.admin.id)
    with env.db.transaction() as tx:
        INSERT.run(tx, **row)
        assert USE.run(tx, token_id=row["id"], now=env.clock.now()) == 1
        assert USE.run(tx, token_id=row["id"], now=env.clock.now()) == 0
    with env.db.transaction("read") as tx:
        used = tx.scalar(select(RefreshTokenRow.used_at).where(RefreshTokenRow.id == row["id"]))
    assert used == env.clock.now()


def test_a_write_outside_a_transaction_is_refused(env: Env, tenant: Initialised) -> None:
    with env.db.transaction("autocommit") as tx, pytest.raises(RuntimeError):
        USE.run(tx, token_id="x", now=env.clock.now())


def test_a_failed_unit_takes_its_prepared_writes_with_it(env: Env, tenant: Initialised) -> None:
    row = values(env, tenant.admin.id)
    with pytest.raises(ValueError), env.db.transaction() as tx:
        INSERT.run(tx, **row)
        raise ValueError("the grant failed later")
    with env.db.transaction("read") as tx:
        assert tx.scalar(select(RefreshTokenRow.id).where(RefreshTokenRow.id == row["id"])) is None
