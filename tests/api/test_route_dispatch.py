"""flat_routes.py's first-segment index and graph/auth.py's GraphRoute answer exactly as FastAPI would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.graph.auth import GraphRoute
from passbridge.oidc.routes import FORM, TokenShortcut, token_path_tenant
from passbridge.services.context import Env
from passbridge.services.tenant import Initialised
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error

# Paths that match fully, by method only (405), by nothing (404 or Graph's 400), with a parameter as
# the first segment (Entra's /{tenant}/...), with a trailing slash, and at the root.
PROBES = [
    ("GET", "/v1.0/users/{user}/authentication/methods"),
    ("GET", "/beta/users/{user}/authentication/methods/{user}"),
    ("POST", "/v1.0/users/{user}/authentication/methods"),
    ("GET", "/v1.0/users/{user}"),
    ("GET", "/v1.0/nonsense"),
    ("GET", "/v1.0/users/"),
    ("GET", "/{tenant}/v2.0/.well-known/openid-configuration"),
    ("GET", "/{tenant}/oauth2/v2.0/token"),
    ("GET", "/no-such-tenant/oauth2/v2.0/token"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/healthz"),
    ("GET", "/login"),
    ("DELETE", "/login"),
    ("GET", "/"),
    ("GET", "/nothing/here"),
]


# Per-request values: request ids, trace and correlation ids, timestamps.
_PER_REQUEST = {"request-id", "client-request-id", "date", "trace_id", "correlation_id", "timestamp"}


def _stable(body: object) -> object:
    if isinstance(body, dict):
        return {k: _stable(v) for k, v in body.items() if k not in _PER_REQUEST}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return body


def _unindexed(app: FastAPI) -> FastAPI:
    app.router.middleware_stack = app.router.app
    return app


@pytest.fixture
def clients(env: Env, tenant: Initialised) -> Iterator[tuple[TestClient, TestClient]]:
    options = {"base_url": "http://localhost:8000", "follow_redirects": False}
    with (
        TestClient(create_app(env), **options) as indexed,  # type: ignore[arg-type]
        TestClient(_unindexed(create_app(env)), **options) as walked,  # type: ignore[arg-type]
    ):
        yield indexed, walked


def test_indexed_dispatch_answers_every_path_as_the_full_walk(
    clients: tuple[TestClient, TestClient], tenant: Initialised, app_auth: TokenFactory
) -> None:
    indexed, walked = clients
    auth = app_auth("User.Read.All", "UserAuthenticationMethod.Read.All")
    for method, template in PROBES:
        path = template.format(user=tenant.admin.id, tenant=tenant.tenant.id)
        ours, theirs = indexed.request(method, path, headers=auth), walked.request(method, path, headers=auth)
        assert ours.status_code == theirs.status_code, (method, path, ours.text)
        assert ours.headers.get("allow") == theirs.headers.get("allow"), (method, path)
        assert ours.headers.get("location") == theirs.headers.get("location"), (method, path)
        if ours.headers.get("content-type", "").startswith("application/json"):
            assert _stable(ours.json()) == _stable(theirs.json()), (method, path)


def test_plain_graph_routes_take_the_direct_handler_and_others_keep_fastapis(env: Env) -> None:
    routes = {(r.path, next(iter(r.methods))): r for r in create_app(env).routes if isinstance(r, APIRoute)}
    plain = routes[("/v1.0/users/{user_id}/authentication/methods", "GET")]
    with_caller_parameter = routes[("/v1.0/users", "GET")]
    assert isinstance(plain, GraphRoute) and plain._plain()
    assert isinstance(with_caller_parameter, GraphRoute) and not with_caller_parameter._plain()


def test_direct_handler_still_refuses_a_missing_or_bad_token(api: TestClient, tenant: Initialised) -> None:
    path = f"/v1.0/users/{tenant.admin.id}/authentication/methods"
    error = assert_graph_error(api.get(path), 401, "InvalidAuthenticationToken")
    assert error["message"] == "Access token is empty."
    assert_graph_error(
        api.get(path, headers={"Authorization": "Bearer not.a.token"}), 401, "InvalidAuthenticationToken"
    )


def test_direct_handler_still_applies_graph_permissions(
    api: TestClient, tenant: Initialised, app_auth: TokenFactory
) -> None:
    path = f"/v1.0/users/{tenant.admin.id}/authentication/methods"
    assert_graph_error(api.get(path, headers=app_auth("Group.Read.All")), 403, "accessDenied")
    assert api.get(path, headers=app_auth("UserAuthenticationMethod.Read.All")).status_code == 200


# --- oidc/routes.py TokenShortcut: POSTs to the token endpoint skip the router ---------------------


def _without_shortcut(app: FastAPI) -> FastAPI:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not TokenShortcut]  # type: ignore[comparison-overlap]
    return app


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/oauth2/v2.0/token", ""),
        ("/contoso.example/oauth2/v2.0/token", "contoso.example"),
        ("/common/oauth2/v2.0/token", "common"),
        ("/oauth2/v2.0/token/", None),
        ("//oauth2/v2.0/token", None),
        ("/a/b/oauth2/v2.0/token", None),
        ("/xoauth2/v2.0/token", None),
        ("/oauth2/v2.0/tokens", None),
    ],
)
def test_token_path_tenant_takes_what_the_routes_match(path: str, expected: str | None) -> None:
    assert token_path_tenant(path) == expected


def test_the_token_shortcut_answers_every_post_as_the_routes_do(env: Env, tenant: Initialised) -> None:
    options = {"base_url": "http://localhost:8000", "follow_redirects": False}
    posts = [
        ("/oauth2/v2.0/token", {"grant_type": "password"}),
        ("/oauth2/v2.0/token", {"grant_type": "refresh_token", "client_id": tenant.tenant.id}),
        ("/oauth2/v2.0/token", {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}),
        (f"/{tenant.tenant.id}/oauth2/v2.0/token", {"grant_type": "client_credentials"}),
        ("/no-such-tenant/oauth2/v2.0/token", {"grant_type": "client_credentials"}),
        ("/oauth2/v2.0/token/", {"grant_type": "client_credentials"}),
    ]
    with (
        TestClient(create_app(env), **options) as short,  # type: ignore[arg-type]
        TestClient(_without_shortcut(create_app(env)), **options) as routed,  # type: ignore[arg-type]
    ):
        for path, form in posts:
            ours, theirs = short.post(path, data=form), routed.post(path, data=form)
            assert ours.status_code == theirs.status_code, (path, ours.text)
            assert ours.headers.get("location") == theirs.headers.get("location"), path
            if not ours.headers.get("content-type", "").startswith("application/json"):
                continue
            assert _stable(ours.json()) == _stable(theirs.json()), path
            # Inside RequestIds: the trace id in the body is the response's request-id.
            assert ours.json()["trace_id"] == ours.headers["request-id"], path
        no_form = short.post(
            "/oauth2/v2.0/token", content=b"{}", headers={"content-type": "application/json"}
        )
        assert no_form.status_code == 400 and no_form.json()["error"] == "invalid_request"


def test_the_token_shortcut_matches_below_the_root_path(env: Env, tenant: Initialised) -> None:
    # Behind a proxy that mounts Passbridge at /idp, uvicorn's --root-path gives paths that start with it.
    app = create_app(env)
    sent: list[dict[str, object]] = []

    async def post(path: str) -> None:
        body = b"grant_type=password"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "/idp",
            "query_string": b"", "client": ("127.0.0.1", 1), "server": ("localhost", 8000),
            "headers": [(b"host", b"localhost:8000"), (b"content-type", FORM.encode())],
        }  # fmt: skip

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await app(scope, receive, send)

    asyncio.run(post("/idp/oauth2/v2.0/token"))
    start, answer = sent[0], sent[1]
    assert start["status"] == 400
    assert b'"error":"unsupported_grant_type"' in answer["body"]  # type: ignore[operator]
