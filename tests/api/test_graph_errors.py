"""Graph's error shape and request ids on every failure."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.services.context import Env
from tests.api.conftest import TokenFactory


def assert_graph_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    inner = error["innerError"]
    assert inner["request-id"] == response.headers["request-id"]
    assert len(inner["date"]) == 19
    return dict(error)


def test_missing_token_is_401_invalid_authentication_token(api: TestClient) -> None:
    response = api.get("/v1.0/users", headers={"client-request-id": "c-1"})
    error = assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert error["message"] == "Access token is empty."
    assert error["innerError"]["client-request-id"] == "c-1"
    assert response.headers["client-request-id"] == "c-1"


def test_garbage_token_is_401(api: TestClient) -> None:
    response = api.get("/beta/users", headers={"Authorization": "Bearer not.a.token"})
    assert_graph_error(response, 401, "InvalidAuthenticationToken")


def test_unknown_segment_is_400_bad_request(api: TestClient, app_auth: TokenFactory) -> None:
    response = api.get("/v1.0/nonsense", headers=app_auth())
    error = assert_graph_error(response, 400, "BadRequest")
    assert error["message"] == "Resource not found for the segment 'nonsense'."


def test_an_unexpected_failure_is_500_with_the_request_ids(env: Env) -> None:
    # Starlette's server-error middleware sends this answer itself; RequestIds wraps it too (app.py).
    app = create_app(env)

    @app.get("/v1.0/boom")
    async def boom() -> None:
        raise RuntimeError("the database went away")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1.0/boom", headers={"client-request-id": "c-500"})
    error = assert_graph_error(response, 500, "generalException")
    assert response.headers["client-request-id"] == "c-500"
    assert "database" not in response.text  # nothing of the failure leaks
    assert error["innerError"]["request-id"] == response.headers["request-id"]
