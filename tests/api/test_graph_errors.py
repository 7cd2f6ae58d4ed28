"""Graph's error shape and request ids on every failure."""

from __future__ import annotations

from fastapi.testclient import TestClient

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
