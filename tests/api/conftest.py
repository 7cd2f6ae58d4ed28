"""An in-process API client and tokens for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import User
from passbridge.tokens.service import issue_app_token, reset_key_cache
from tests.factories import make_app, make_user


@pytest.fixture
def api(env: Env, tenant: Initialised) -> Iterator[TestClient]:
    reset_key_cache(env)
    with TestClient(create_app(env), base_url="http://localhost:8000") as client:
        yield client


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def app_auth(env: Env) -> TokenFactory:
    """`app_auth("User.Read.All", ...)` -> headers carrying an application token with those permissions."""

    def make(*permissions: str) -> dict[str, str]:
        created = make_app(env, permissions=permissions)
        with env.db.transaction("read") as tx:
            token = issue_app_token(tx, env, created.application).access_token
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def writer(app_auth: TokenFactory) -> dict[str, str]:
    """Headers for an application holding UserAuthenticationMethod.ReadWrite.All (pass API tests)."""
    return app_auth("UserAuthenticationMethod.ReadWrite.All")


@pytest.fixture
def ada(env: Env) -> User:
    return make_user(env, "ada@contoso.example", display_name="Ada Lovelace")
