"""Bad input on every Graph write endpoint gets Graph's 400, never a 500: JSON nested too deep, numbers
too long for Python's int-string limit, strings no database can store (a lone surrogate, NUL), JSON's
non-standard constants, and pass times at the edge of the calendar.

Each body is written as text with one value swapped for the bad one, so the bad value reaches exactly
the property named (a string property each endpoint stores or quotes back in its messages)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from passbridge.services.context import Env
from passbridge.store.models import Group, TemporaryAccessPass, User
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import make_group, make_user

SLOT = "__BAD_VALUE__"
ADA = "ada@contoso.example"
POLICY = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
PERMISSIONS = (
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "Policy.ReadWrite.AuthenticationMethod",
)


@dataclass(frozen=True)
class Endpoint:
    """A Graph write endpoint and a body template whose SLOT is a string property it keeps."""

    name: str
    method: str
    path: str
    template: Any

    def body(self, raw_value: str) -> str:
        return json.dumps(self.template).replace(f'"{SLOT}"', raw_value)


ENDPOINTS = [
    Endpoint(
        "create user", "POST", "/v1.0/users", {"displayName": SLOT, "userPrincipalName": "x@contoso.example"}
    ),
    Endpoint("create user upn", "POST", "/v1.0/users", {"displayName": "X", "userPrincipalName": SLOT}),
    Endpoint("update user", "PATCH", f"/v1.0/users/{ADA}", {"displayName": SLOT}),
    Endpoint("update user mail", "PATCH", f"/v1.0/users/{ADA}", {"mail": SLOT}),
    Endpoint("create group", "POST", "/v1.0/groups", {"displayName": SLOT}),
    Endpoint("create group description", "POST", "/v1.0/groups", {"displayName": "G", "description": SLOT}),
    Endpoint("add member", "POST", "/v1.0/groups/{group}/members/$ref", {"@odata.id": SLOT}),
    Endpoint(
        "issue pass",
        "POST",
        f"/v1.0/users/{ADA}/authentication/temporaryAccessPassMethods",
        {"startDateTime": SLOT},
    ),
    Endpoint(
        "pass policy",
        "PATCH",
        f"{POLICY}/TemporaryAccessPass",
        {"includeTargets": [{"targetType": "group", "id": SLOT}]},
    ),
    Endpoint(
        "passkey policy",
        "PATCH",
        f"{POLICY}/Fido2",
        {"keyRestrictions": {"isEnforced": False, "enforcementType": "allow", "aaGuids": [SLOT]}},
    ),
    Endpoint(
        "app policy",
        "PATCH",
        f"{POLICY}/SoftwareOath",
        {"excludeTargets": [{"targetType": "user", "id": SLOT}]},
    ),
]
BY_NAME = {e.name: e for e in ENDPOINTS}

DEPTH = 1_000
BAD_JSON = {
    # CPython's json raises RecursionError on this; a deeper body could exhaust the C stack instead.
    "nested 1,000 deep": "[" * DEPTH + "]" * DEPTH,
    "nested 33 deep": "[" * 33 + "]" * 33,
    # json.loads raises ValueError past sys.get_int_max_str_digits() (4,300).
    "5,000-digit number": "9" * 5_000,
    "NaN": "NaN",
    "Infinity": "-Infinity",
}
BAD_STRINGS = {
    "lone surrogate": r'"Ada \ud800 Lovelace"',
    "lone low surrogate": r'"\udfff"',
    "NUL": r'"Ada\u0000Lovelace"',
}


Send = Callable[[Endpoint, "str | bytes"], httpx.Response]


@pytest.fixture
def send(api: TestClient, app_auth: TokenFactory, env: Env) -> Send:
    """Sends a body to an endpoint as an application holding every write permission."""
    make_user(env, ADA, display_name="Ada Lovelace")
    group_id = make_group(env, "Staff").id
    headers = {**app_auth(*PERMISSIONS), "Content-Type": "application/json"}

    def call(endpoint: Endpoint, content: str | bytes) -> httpx.Response:
        path = endpoint.path.replace("{group}", group_id)
        return api.request(endpoint.method, path, content=content, headers=headers)

    return call


def _counts(env: Env) -> tuple[int, int, int]:
    with env.db.transaction("read") as tx:
        return tuple(  # type: ignore[return-value]
            int(tx.session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (User, Group, TemporaryAccessPass)
        )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("bad", list(BAD_JSON), ids=str)
def test_unreadable_json_is_graphs_400_on_every_write_endpoint(
    env: Env, send: Send, endpoint: Endpoint, bad: str
) -> None:
    before = _counts(env)
    response = send(endpoint, endpoint.body(BAD_JSON[bad]))
    error = assert_graph_error(response, 400, "BadRequest")
    assert "JSON" in error["message"]
    assert _counts(env) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("bad", list(BAD_STRINGS), ids=str)
def test_strings_no_database_can_store_are_graphs_400_on_every_write_endpoint(
    env: Env, send: Send, endpoint: Endpoint, bad: str
) -> None:
    before = _counts(env)
    response = send(endpoint, endpoint.body(BAD_STRINGS[bad]))
    error = assert_graph_error(response, 400, "badRequest")
    assert "character" in error["message"]
    assert _counts(env) == before


def test_a_surrogate_in_a_property_name_is_refused_without_quoting_it(env: Env, send: Send) -> None:
    response = send(BY_NAME["create user"], r'{"display\ud800Name": "X"}')
    error = assert_graph_error(response, 400, "badRequest")
    assert "\ud800" not in error["message"]


def test_a_surrogate_encoded_as_raw_bytes_is_graphs_400(env: Env, send: Send) -> None:
    # U+D800 written as UTF-8-style bytes: Python's json decodes bytes with surrogatepass, so this
    # reaches the string check as a lone surrogate.
    content = b'{"displayName": "Ada \xed\xa0\x80", "userPrincipalName": "x@contoso.example"}'
    response = send(BY_NAME["create user"], content)
    error = assert_graph_error(response, 400, "badRequest")
    assert "displayName" in error["message"] and "surrogate" in error["message"]


def test_bytes_that_are_not_utf8_are_graphs_400(env: Env, send: Send) -> None:
    content = b'{"displayName": "Ada \xff\xfe", "userPrincipalName": "x@contoso.example"}'
    response = send(BY_NAME["create user"], content)
    assert_graph_error(response, 400, "BadRequest")


@pytest.mark.parametrize(
    "body",
    [
        {"startDateTime": "9999-12-31T23:59:59Z"},
        {"startDateTime": "9999-12-31T23:59:59Z", "lifetimeInMinutes": 60},
        {"startDateTime": "9999-12-31T23:59:59-14:00"},  # past the calendar once in UTC
        {"startDateTime": "0001-01-01T00:00:00+14:00"},  # before it
        {"startDateTime": "9999-01-01T00:00:00Z"},
    ],
    ids=["year-9999", "year-9999-with-lifetime", "year-9999-west", "year-1-east", "year-9999-begins"],
)
def test_a_pass_starting_at_the_calendars_end_is_graphs_400(
    env: Env, send: Send, body: dict[str, Any]
) -> None:
    before = _counts(env)
    response = send(BY_NAME["issue pass"], json.dumps(body))
    error = assert_graph_error(response, 400, "badRequest")
    assert "out of range" in error["message"]
    assert _counts(env) == before


def test_a_4000_digit_lifetime_parses_and_is_refused_as_out_of_range(env: Env, send: Send) -> None:
    body = '{"lifetimeInMinutes": ' + "9" * 4_000 + "}"
    response = send(BY_NAME["issue pass"], body)
    error = assert_graph_error(response, 400, "badRequest")
    assert "LifetimeInMinutes" in error["message"]


@pytest.mark.parametrize(
    "field",
    ["defaultLifetimeInMinutes", "defaultLength", "minimumLifetimeInMinutes", "maximumLifetimeInMinutes"],
)
def test_a_4000_digit_policy_number_is_refused(env: Env, send: Send, field: str) -> None:
    body = '{"' + field + '": -' + "9" * 4_000 + "}"
    response = send(BY_NAME["pass policy"], body)
    assert_graph_error(response, 400, "badRequest")


def test_good_unicode_still_passes(env: Env, send: Send) -> None:
    """What the checks must not refuse: names in any script, emoji with joiners, combining marks."""
    name = "Zoë Ñúñez-王 👩‍💻 e\u0301"
    body = {"displayName": name, "userPrincipalName": "zoe@contoso.example"}
    created = send(BY_NAME["create user"], json.dumps(body))
    assert created.status_code == 201, created.text
    assert created.json()["displayName"] == name
