"""One refresh token presented at once, many times, to two server processes over one store: exactly one
request gets new tokens; every other is refused as a replay, which revokes the whole family (the winner's
new token included), on PostgreSQL and on SQLite (where one process's grant may run on its event loop
while the other's waits for the lock in its threadpool)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from passbridge.config import load_settings
from passbridge.directory import queries as directory_store
from passbridge.services.context import Env
from passbridge.store.models import RefreshTokenRow
from passbridge.tokens import oidc
from tests.multi.test_pass_race import Store, cli, pg_store, server
from tests.servers import TEST_PEPPER, initialised_store

CLIENTS = 24
SCOPE = "openid profile offline_access User.Read"


@contextmanager
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    environ = initialised_store(tmp_path)
    engine = create_engine(f"sqlite:///{tmp_path / 'passbridge.db'}")
    try:
        yield Store(environ, engine)
    finally:
        engine.dispose()


def seed(store: Store, client_id: str) -> tuple[str, str]:
    """A refresh token for the administrator, as a sign-in through `client_id` would leave; and its family."""
    environ = store.environ
    settings = load_settings(
        data_dir=Path(environ["PASSBRIDGE_DATA_DIR"]),
        database_url=environ.get("PASSBRIDGE_DATABASE_URL"),
        pepper=TEST_PEPPER,
    )
    env = Env.from_settings(settings)
    try:
        with env.db.transaction() as tx:
            admin = directory_store.users(tx)[0]
            now = env.clock.now()
            family = str(uuid.uuid4())
            grantee = oidc.Grantee(
                admin.id, admin.user_principal_name, admin.display_name, admin.mail, None, now,
                ("tap", "mfa"), "mfa", now + timedelta(hours=8), family,
            )  # fmt: skip
            return oidc.new_refresh_token(tx, env, grantee, client_id, SCOPE), family
    finally:
        env.db.dispose()


async def race(bases: list[str], client_id: str, token: str) -> list[httpx.Response]:
    clients = [httpx.AsyncClient(base_url=bases[i % len(bases)], timeout=60) for i in range(CLIENTS)]
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token}
    try:
        # Open every connection first, so that the grants themselves arrive together.
        await asyncio.gather(*(c.get("/healthz") for c in clients))
        return await asyncio.gather(*(c.post("/oauth2/v2.0/token", data=form) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


@pytest.mark.multi
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_refresh_token_is_used_once_across_two_servers(tmp_path: Path, database: str) -> None:
    opened = sqlite_store(tmp_path) if database == "sqlite" else pg_store(tmp_path)
    with opened as store, ExitStack() as servers:
        added = cli(
            store, "app", "add", "Racing RP", "--public", "--redirect-uri", "http://localhost/cb", "--json"
        )
        client_id = json.loads(added)["appId"]
        token, family = seed(store, client_id)
        bases = [servers.enter_context(server(store, tmp_path / f"server{i}.log")) for i in range(2)]

        answers = asyncio.run(race(bases, client_id, token))

        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [400] * (CLIENTS - 1), statuses
        [winner] = [a for a in answers if a.status_code == 200]
        for loser in answers:
            if loser is not winner:
                assert (loser.json()["error"], loser.json()["error_codes"]) == ("invalid_grant", [50173])
        assert {str(a.request.url).rsplit("/oauth2", 1)[0] for a in answers} == set(bases)
        # Two holders of one chain: the replays revoked the family, the winner's new token with it.
        again = httpx.post(
            f"{bases[0]}/oauth2/v2.0/token",
            data={**{"grant_type": "refresh_token", "client_id": client_id},
                  "refresh_token": winner.json()["refresh_token"]},
        )  # fmt: skip
        assert again.json()["error"] == "invalid_grant"
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(RefreshTokenRow.used_at, RefreshTokenRow.revoked_at).where(
                    RefreshTokenRow.family_id == family
                )
            ).all()
        assert len(rows) == 2  # the presented token and the one winner's
        assert sum(1 for used, _ in rows if used is not None) == 1
        assert all(revoked is not None for _, revoked in rows)
    for i in range(2):
        output = (tmp_path / f"server{i}.log").read_text()
        assert "Traceback" not in output and " 500 " not in output
        assert token not in output
