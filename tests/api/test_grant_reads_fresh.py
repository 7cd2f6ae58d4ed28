"""A client-credentials grant reads its application afresh on every request (no Session, nothing
cached): another process replacing the secret or removing the application takes effect at the next grant."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from passbridge.directory.apps import NewApplication
from passbridge.services.context import Env
from passbridge.store.models import Application
from tests.api.test_tokens import TOKEN, assert_oauth_error, post_form
from tests.factories import make_app

NEW_SECRET = "a-new-secret-" + "n" * 30


@pytest.fixture
def client_app(env: Env) -> NewApplication:
    return make_app(env, "HR provisioning", permissions=("User.Read.All",))


def test_a_replaced_secret_stops_working_at_the_next_grant(
    api: TestClient, env: Env, client_app: NewApplication
) -> None:
    assert api.post(TOKEN, data=post_form(client_app)).status_code == 200
    with env.db.transaction() as tx:
        tx.session.execute(
            update(Application)
            .where(Application.id == client_app.application.id)
            .values(secret_hash=env.keeper.keyed_hash(NEW_SECRET))
        )
    assert_oauth_error(api.post(TOKEN, data=post_form(client_app)), 401, "invalid_client", 7000215)
    assert api.post(TOKEN, data=post_form(client_app, client_secret=NEW_SECRET)).status_code == 200


def test_a_removed_application_gets_no_token_at_the_next_grant(
    api: TestClient, env: Env, client_app: NewApplication
) -> None:
    assert api.post(TOKEN, data=post_form(client_app)).status_code == 200
    with env.db.transaction() as tx:
        tx.session.execute(delete(Application).where(Application.id == client_app.application.id))
    assert_oauth_error(api.post(TOKEN, data=post_form(client_app)), 401, "invalid_client", 700016)
