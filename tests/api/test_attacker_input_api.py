"""Input an attacker sends the Graph API and the token endpoint, each of which once gave a 500: a NUL in a
path id or a query option (PostgreSQL refuses it even in a lookup), $top digits int() refuses, a
$skiptoken offset past what a database takes, and Basic credentials that are not ASCII or UTF-8. Each is
now Graph's or OAuth's 400/401, on both databases."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from passbridge.store.models import User
from tests.api.conftest import TokenFactory

READ_ALL = ("User.ReadWrite.All", "Group.ReadWrite.All", "AuditLog.Read.All", "User.RevokeSessions.All")
READ_ALL += ("UserAuthenticationMethod.ReadWrite.All",)


def _skiptoken(offset: str) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


NUL_URLS = [
    "/v1.0/users/a%00b",
    "/v1.0/groups/a%00b",
    "/v1.0/users/a%00b/authentication/methods",
    "/v1.0/users/a%00b/authentication/temporaryAccessPassMethods",
    "/v1.0/users/a%00b/authentication/fido2Methods",
    "/v1.0/auditLogs/directoryAudits/a%00b",
    "/v1.0/auditLogs/signIns/a%00b",
    "/v1.0/users?$filter=displayName eq 'a%00b'",
    "/beta/groups?$filter=startswith(displayName,'%00')",
    "/v1.0/auditLogs/signIns?$filter=userId eq '%00'",
    "/v1.0/auditLogs/signIns?$filter=userPrincipalName eq '%00'",
    "/v1.0/users?$select=id,%00",
]


def test_a_nul_anywhere_in_a_graph_url_is_a_400(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(*READ_ALL)
    for url in NUL_URLS:
        answer = api.get(url, headers=headers)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["error"]["code"] == "badRequest"
        assert "NUL character" in answer.json()["error"]["message"]


def test_a_nul_id_in_a_write_is_a_400_too(api: TestClient, app_auth: TokenFactory, ada: User) -> None:
    headers = app_auth(*READ_ALL)
    assert api.post("/v1.0/users/a%00b/revokeSignInSessions", headers=headers).status_code == 400
    assert api.delete("/v1.0/users/a%00b", headers=headers).status_code == 400
    method = f"/v1.0/users/{ada.id}/authentication/fido2Methods/a%00b"
    assert api.delete(method, headers=headers).status_code == 400
    # The id is checked only once the caller is known: without a token it stays a 401.
    assert api.get("/v1.0/users/a%00b").status_code == 401


COLLECTIONS = ["/v1.0/users", "/v1.0/groups", "/v1.0/auditLogs/signIns", "/v1.0/auditLogs/directoryAudits"]


def test_a_top_that_is_not_1_to_999_in_ascii_digits_is_a_400(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(*READ_ALL)
    for path in COLLECTIONS:
        for top in ["\u00b2", "9" * 5_000, "0x10", "1000"]:  # int() refuses the first two: once a 500
            answer = api.get(path, params={"$top": top}, headers=headers)
            assert answer.status_code == 400, (path, top[:8], answer.text)
            assert answer.json()["error"]["message"].startswith("Invalid page size specified")


def test_a_skiptoken_past_any_page_is_a_400(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(*READ_ALL)
    for path in COLLECTIONS:
        # Past a signed 64-bit OFFSET (once a 500 on both databases), negative, past our bound.
        for offset in ["9" * 30, "-1", str(2**31)]:
            answer = api.get(path, params={"$skiptoken": _skiptoken(offset)}, headers=headers)
            assert answer.status_code == 400, (path, offset, answer.text)
            assert answer.json()["error"]["message"] == "The $skiptoken is invalid."


@pytest.mark.parametrize(
    "credentials",
    [b"Basic \xff\xfe", b"Basic " + base64.b64encode(b"\xff\xfe:\x00")],
    ids=["not-ascii", "not-utf8"],
)
def test_basic_credentials_that_cannot_be_read_are_invalid_client(
    api: TestClient, credentials: bytes
) -> None:
    answer = api.post(
        "/oauth2/v2.0/token",
        headers=[(b"authorization", credentials)],
        data={"grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client"
