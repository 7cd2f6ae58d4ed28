"""forms.py on every endpoint that reads a form: a body past the endpoint's limit is refused with 413
without being read (a Content-Length over it: not a byte; a chunked body: no further than the limit),
and a field that cannot be stored is refused in the endpoint's own shape, never a 500.

The requests go straight to the ASGI app with a receive() that counts what it hands out, so what is
asserted is how much of the body the server pulled, not how long it took."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message

from passbridge.app import create_app
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from tests.web.conftest import csrf_of

FORM = b"application/x-www-form-urlencoded"
TEN_MB = 10 * 1024 * 1024
CHUNK = 4 * 1024
# The largest limit of the endpoints below (the pages'); the token endpoint and logout take 16 KiB.
LARGEST_LIMIT = 64 * 1024

PATHS = ["/oauth2/v2.0/token", "/{tenant}/oauth2/v2.0/token", "/oauth2/v2.0/logout", "/login", "/login/pass"]


@dataclass
class Upload:
    """An ASGI receive() handing out `total` bytes of one form field in CHUNK pieces."""

    total: int
    calls: int = 0
    given: int = 0
    sent: list[Message] = field(default_factory=list)

    async def receive(self) -> Message:
        self.calls += 1
        if self.given >= self.total:
            return {"type": "http.disconnect"}
        piece = b"x" * min(CHUNK, self.total - self.given)
        if self.given == 0:
            piece = b"a=" + piece[2:]
        self.given += len(piece)
        return {"type": "http.request", "body": piece, "more_body": self.given < self.total}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))

    @property
    def content_type(self) -> str:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"]).get(b"content-type", b"").decode()

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def post(app: FastAPI, path: str, upload: Upload, *, declared: bool) -> None:
    length = [(b"content-length", str(upload.total).encode())] if declared else []
    chunked = [] if declared else [(b"transfer-encoding", b"chunked")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost:8000"), (b"content-type", FORM), *length, *chunked],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 8000),
    }
    asyncio.run(app(scope, upload.receive, upload.send))


def assert_refused_in_its_shape(path: str, upload: Upload) -> None:
    assert upload.status == 413
    if "/token" in path:  # RFC 6749 section 5.2: a JSON error body
        assert upload.content_type.startswith("application/json")
        assert json.loads(upload.body)["error"] == "invalid_request"
    else:
        assert upload.content_type.startswith("text/html")


@pytest.mark.parametrize("path", PATHS)
def test_a_10_mb_body_with_its_length_declared_is_refused_with_413_before_reading_a_byte(
    env: Env, tenant: Initialised, path: str
) -> None:
    upload = Upload(TEN_MB)
    post(create_app(env), path.format(tenant=tenant.tenant.id), upload, declared=True)
    assert_refused_in_its_shape(path, upload)
    assert upload.given == 0


@pytest.mark.parametrize("path", PATHS)
def test_a_chunked_10_mb_body_is_refused_with_413_once_past_the_limit(
    env: Env, tenant: Initialised, path: str
) -> None:
    upload = Upload(TEN_MB)
    post(create_app(env), path.format(tenant=tenant.tenant.id), upload, declared=False)
    assert_refused_in_its_shape(path, upload)
    assert upload.given <= LARGEST_LIMIT + CHUNK  # one piece past the limit, of 10 MB on offer
    assert upload.calls <= LARGEST_LIMIT // CHUNK + 2


@pytest.fixture
def web(env: Env, tenant: Initialised) -> TestClient:
    return TestClient(create_app(env), base_url="http://localhost:8000", follow_redirects=False)


@pytest.mark.parametrize("tenant_path", [False, True], ids=["root", "tenant"])
def test_a_nul_in_a_token_request_is_an_oauth_invalid_request_not_a_500(
    web: TestClient, tenant: Initialised, tenant_path: bool
) -> None:
    # PostgreSQL refuses a NUL even in a lookup: the client id below once reached one and gave a 500.
    path = f"/{tenant.tenant.id}/oauth2/v2.0/token" if tenant_path else "/oauth2/v2.0/token"
    body = "grant_type=client_credentials&client_id=ab%00cd&client_secret=x&scope=y"
    answer = web.post(path, content=body, headers={"content-type": FORM.decode()})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_a_logout_with_too_many_query_fields_is_a_400_page_not_a_500(web: TestClient) -> None:
    answer = web.get("/oauth2/v2.0/logout?" + "&".join(f"f{n}=x" for n in range(40)))
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")


def test_a_userinfo_body_over_the_limit_is_an_oauth_413(web: TestClient) -> None:
    answer = web.post(
        "/oidc/userinfo", content="access_token=" + "x" * 20_000, headers={"content-type": FORM.decode()}
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "invalid_request"


def test_a_page_form_within_the_limits_is_still_read(web: TestClient) -> None:
    # The refusals above are not a refusal of every post: the username page still takes its form.
    login = web.get("/login")
    answer = web.post("/login", data={"csrf_token": csrf_of(login.text), "username": "ada@contoso.example"})
    assert answer.status_code == 303
