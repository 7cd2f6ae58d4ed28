"""An in-process API client and tokens for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.services.context import Env
from passbridge.services.tenant import Initialised
from passbridge.services.tokens import issue_app_token, reset_key_cache
from tests.factories import make_app


@pytest.fixture
def api(env: Env, tenant: Initialised) -> Iterator[TestClient]:
    reset_key_cache()
    with TestClient(create_app(env), base_url="http://localhost:8000") as client:
        yield client


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def app_auth(env: Env) -> TokenFactory:
    """`app_auth("User.Read.All", ...)` -> headers carrying an application token with those permissions."""

    def make(*permissions: str) -> dict[str, str]:
        created = make_app(env, permissions=permissions)
        with env.db.unit_of_work(readonly=True) as session:
            token = issue_app_token(session, env, created.application).access_token
        return {"Authorization": f"Bearer {token}"}

    return make
