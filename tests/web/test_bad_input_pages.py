"""The pages with input that once gave a 500: a NUL (%00, which PostgreSQL refuses even in a lookup), the
UTF-8 bytes of a lone surrogate (%ED%A0%80), huge fields, and a passkey answer nested past Python's
recursion limit. Each gets a page or JSON answer in the 4xx range, and nothing is stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from passbridge.services.context import Env
from passbridge.store.models import Fido2Credential, SignInFlow, UserSession
from tests.softkey import SoftAuthenticator
from tests.web.conftest import BASE, csrf_of, issue, sign_in

FORM = {"content-type": "application/x-www-form-urlencoded"}
DEEP = "[" * 5_000  # well inside the form's size limit; json.loads gives up with RecursionError


def _post(client: TestClient, path: str, csrf: str, raw_fields: str) -> int:
    body = f"csrf_token={csrf}&{raw_fields}".encode()
    return client.post(path, content=body, headers=FORM).status_code


def _count(env: Env, table: type) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(table)) or 0)


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("ada%00lovelace%40contoso.example", 400),  # PostgreSQL refused the flow's username: a 500
        ("%ED%A0%80", 303),  # decoded as U+FFFD replacements: an unknown name like any other
        ("ada%40contoso.example%ED%A0%80", 303),
        ("x" * 5_000, 400),  # longer than any username
    ],
    ids=["nul", "surrogate-bytes", "upn-and-surrogate-bytes", "huge"],
)
def test_the_username_page_answers_odd_input_without_a_500(
    web: TestClient, ada: str, username: str, status: int
) -> None:
    csrf = csrf_of(web.get("/login").text)
    assert _post(web, "/login", csrf, f"username={username}") == status


def test_a_nul_in_the_pass_or_code_field_is_a_400(env: Env, web: TestClient, ada: str) -> None:
    csrf = csrf_of(web.get("/login").text)
    assert _post(web, "/login", csrf, "username=ada%40contoso.example") == 303
    csrf = csrf_of(web.get("/login/pass").text)
    assert _post(web, "/login/pass", csrf, "pass=abc%00def") == 400
    assert _post(web, "/login/code", csrf, "code=12%0034") == 400


@pytest.mark.parametrize(
    "field", ["ceremony_id=x%00y&credential={}", f"ceremony_id=x&credential={DEEP}"], ids=["nul", "deep"]
)
def test_a_passkey_sign_in_answer_that_cannot_be_read_is_refused(
    env: Env, web: TestClient, ada: str, field: str
) -> None:
    csrf = csrf_of(web.get("/login").text)
    status = _post(web, "/login/passkey", csrf, field)
    assert 400 <= status < 500
    # GET /login stores no flow (it is made by the first post); an unreadable answer finishes none.
    assert _count(env, UserSession) == 0
    with env.db.transaction("read") as tx:
        assert all(flow.state != "done" for flow in tx.session.scalars(select(SignInFlow)))


@pytest.mark.parametrize(
    "field", ["ceremony_id=x%00y&credential={}", f"ceremony_id={{id}}&credential={DEEP}"]
)
def test_a_passkey_registration_answer_that_cannot_be_read_is_refused(
    env: Env, web: TestClient, ada: str, field: str
) -> None:
    assert sign_in(web, ada, issue(env, ada).value).proved.status_code == 303
    csrf = csrf_of(web.get("/security-info").text)
    started = web.post("/security-info/passkeys/options", data={"csrf_token": csrf}).json()
    status = _post(web, "/security-info/passkeys", csrf, field.replace("{id}", started["ceremonyId"]))
    assert 400 <= status < 500
    assert _count(env, Fido2Credential) == 0


def test_a_passkey_name_with_a_nul_is_refused(env: Env, web: TestClient, ada: str) -> None:
    assert sign_in(web, ada, issue(env, ada).value).proved.status_code == 303
    csrf = csrf_of(web.get("/security-info").text)
    started = web.post("/security-info/passkeys/options", data={"csrf_token": csrf}).json()
    answer = SoftAuthenticator(BASE).create(started["publicKey"])
    done = web.post(
        "/security-info/passkeys",
        data={
            "csrf_token": csrf,
            "ceremony_id": started["ceremonyId"],
            "credential": answer,
            "name": "a\x00b",
        },
    )
    assert done.status_code == 400
    assert _count(env, Fido2Credential) == 0
