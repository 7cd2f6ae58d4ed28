"""The fast paths of routing (fastpath/routing.py's flat routes and first-segment index, GraphRoute,
TokenShortcut) answer exactly as FastAPI's plain routing does: each test builds both apps itself, so
it runs the same under PASSBRIDGE_FASTPATH=0."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from passbridge import fastpath
from passbridge.app import create_app
from passbridge.directory.tenant import Initialised
from passbridge.fastpath.graph_route import GraphRoute
from passbridge.fastpath.token_shortcut import TokenShortcut, token_path_tenant
from passbridge.oidc.routes import FORM
from passbridge.services.context import Env
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


def _app(env: Env, *, fast: bool) -> FastAPI:
    return create_app(dataclasses.replace(env, settings=env.settings.model_copy(update={"fastpath": fast})))


@pytest.fixture(autouse=True)
def _switch_as_the_environment_says() -> Iterator[None]:
    yield
    fastpath.configure(fastpath.setting_from_environment(), without=())


@pytest.fixture
def clients(env: Env, tenant: Initialised) -> Iterator[tuple[TestClient, TestClient]]:
    options = {"base_url": "http://localhost:8000", "follow_redirects": False}
    plain = _app(env, fast=False)
    with (
        TestClient(_app(env, fast=True), **options) as indexed,  # type: ignore[arg-type]
        TestClient(plain, **options) as walked,  # type: ignore[arg-type]
    ):
        yield indexed, walked


def test_the_switch_off_builds_fastapis_own_routing(env: Env) -> None:
    plain = _app(env, fast=False)
    assert plain.router.middleware_stack is None or plain.router.middleware_stack == plain.router.app
    assert not any(isinstance(route, GraphRoute) for route in plain.routes)
    assert not any(m.cls is TokenShortcut for m in plain.user_middleware)  # type: ignore[comparison-overlap]
    assert not fastpath.active("prepared") and not fastpath.active("jws")
    fast = _app(env, fast=True)
    assert any(isinstance(route, GraphRoute) for route in fast.routes)
    assert any(m.cls is TokenShortcut for m in fast.user_middleware)  # type: ignore[comparison-overlap]
    assert fastpath.active("prepared") and fastpath.active("jws")


def test_a_bypass_written_for_other_library_versions_stays_off_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(fastpath.REQUIRES, "jws", (("joserfc", "0.1"),))
    monkeypatch.setattr(fastpath, "_reported", False)
    with caplog.at_level(logging.WARNING, logger="passbridge.fastpath"):
        fastpath.configure(True, without=())
        fastpath.configure(True)
    assert not fastpath.active("jws") and fastpath.active("prepared")
    [line] = [r.getMessage() for r in caplog.records if r.name == "passbridge.fastpath"]
    assert line.startswith("fast paths jws off") and "written for 0.1" in line


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
    app = _app(env, fast=True)
    routes = {(r.path, next(iter(r.methods))): r for r in app.routes if isinstance(r, APIRoute)}
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
        TestClient(_app(env, fast=False), **options) as routed,  # type: ignore[arg-type]
        TestClient(_app(env, fast=True), **options) as short,  # type: ignore[arg-type]
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


@pytest.mark.parametrize("fast", [True, False], ids=["shortcut", "routed"])
def test_the_token_endpoint_matches_below_the_root_path(env: Env, tenant: Initialised, fast: bool) -> None:
    # Behind a proxy that mounts Passbridge at /idp, uvicorn's --root-path gives paths that start with it.
    app = _app(env, fast=fast)
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
