"""The sign-in log over Graph (`/auditLogs/signIns`): shape per version, order, paging, $filter in SQL,
who may read it, and that no pass value ever appears in it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.clock import ManualClock
from passbridge.directory.rules import Role
from passbridge.directory.service import DirectoryService
from passbridge.directory.tenant import Initialised
from passbridge.logs.signin_log import PORTAL_APP_ID, PORTAL_APP_NAME
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.services.context import Env, operator
from passbridge.signin.flow import SignInService
from passbridge.signin.rules import SignInFailed
from passbridge.signin.strategies import Pass
from passbridge.store.models import Application, SignInLogEntry, User
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.api.test_policy_api import user_auth
from tests.factories import make_app, make_user

SIGNINS = "/v1.0/auditLogs/signIns"
BETA_SIGNINS = "/beta/auditLogs/signIns"
IP = "203.0.113.7"
OTHER_IP = "198.51.100.9"

V1_KEYS = {
    "id",
    "createdDateTime",
    "userDisplayName",
    "userPrincipalName",
    "userId",
    "appId",
    "appDisplayName",
    "ipAddress",
    "clientAppUsed",
    "correlationId",
    "conditionalAccessStatus",
    "isInteractive",
    "riskDetail",
    "riskLevelAggregated",
    "riskLevelDuringSignIn",
    "riskState",
    "riskEventTypes",
    "riskEventTypes_v2",
    "resourceDisplayName",
    "resourceId",
    "status",
    "deviceDetail",
    "location",
    "appliedConditionalAccessPolicies",
}
BETA_ONLY = {"authenticationDetails", "authenticationRequirement"}


@dataclass(frozen=True)
class History:
    ada: User
    bob: User
    app: Application
    pass_value: str
    wrong_guesses: tuple[str, ...]


def attempt(env: Env, username: str, value: str, *, ip: str = IP, client_id: str | None = None) -> bool:
    """One whole sign-in through the service the pages use; True when it succeeded."""
    service = SignInService(env)
    flow = service.begin(client_id=client_id)
    flow = service.identify(flow.id, flow.csrf_token, username)
    try:
        service.prove(flow.id, flow.csrf_token, Pass(value), ip_address=ip)
    except SignInFailed:
        return False
    return True


@pytest.fixture
def reader(app_auth: TokenFactory) -> dict[str, str]:
    return app_auth("AuditLog.Read.All")


@pytest.fixture
def history(env: Env, clock: ManualClock, reader: dict[str, str]) -> History:
    """Five attempts ten minutes apart from 09:10 (tokens live an hour, so all stay within it):
    ada succeeds; ada mistypes; a stranger tries; bob, disabled, tries; ada signs in to an app."""
    ada = make_user(env, "ada@contoso.example", display_name="Ada Lovelace")
    bob = make_user(env, "bob@contoso.example", display_name="Bob")
    app = make_app(env, "Payroll", redirect_uris=("https://payroll.example/cb",)).application
    with env.db.transaction() as tx:
        taps = TapService(tx, env, operator())
        value = taps.issue(ada.id, PassRequest(is_usable_once=False)).value
        bob_value = taps.issue(bob.id, PassRequest()).value
        DirectoryService(tx, env, operator()).set_account_enabled(bob.id, False)
    wrong = (value[::-1] + "Q", bob_value)
    clock.advance(minutes=10)
    assert attempt(env, "ada@contoso.example", value)
    clock.advance(minutes=10)
    assert not attempt(env, "Ada@Contoso.Example", wrong[0], ip=OTHER_IP)
    clock.advance(minutes=10)
    assert not attempt(env, "nobody@contoso.example", value)
    clock.advance(minutes=10)
    assert not attempt(env, "bob@contoso.example", bob_value)
    clock.advance(minutes=10)
    assert attempt(env, "ada@contoso.example", value, client_id=app.app_id)
    return History(ada, bob, app, value, wrong)


def listed(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    value: list[dict[str, Any]] = response.json()["value"]
    return value


def outcomes(response: Any) -> list[tuple[str, int]]:
    """(createdDateTime's minute part, errorCode) of each entry, in the order given."""
    return [(e["createdDateTime"][11:16], e["status"]["errorCode"]) for e in listed(response)]


def stored_rows(env: Env) -> str:
    with env.db.transaction("read") as tx:
        rows = tx.session.execute(select(*SignInLogEntry.__table__.columns)).all()
    return json.dumps(sorted([list(r) for r in rows], key=str), default=str)


def test_entries_come_newest_first_in_the_v1_shape(
    api: TestClient, reader: dict[str, str], history: History
) -> None:
    body = api.get(SIGNINS, headers=reader).json()
    assert body["@odata.context"] == "http://localhost:8000/v1.0/$metadata#auditLogs/signIns"
    assert "@odata.nextLink" not in body
    assert [(e["createdDateTime"], e["status"]["errorCode"]) for e in body["value"]] == [
        ("2026-01-01T09:50:00Z", 0),
        ("2026-01-01T09:40:00Z", 50057),
        ("2026-01-01T09:30:00Z", 50126),
        ("2026-01-01T09:20:00Z", 50126),
        ("2026-01-01T09:10:00Z", 0),
    ]
    first = body["value"][-1]
    assert set(first) == V1_KEYS
    correlation = first.pop("correlationId")
    assert len(correlation) == 36
    assert first == {
        "id": first["id"],
        "createdDateTime": "2026-01-01T09:10:00Z",
        "userDisplayName": "Ada Lovelace",
        "userPrincipalName": "ada@contoso.example",
        "userId": history.ada.id,
        "appId": PORTAL_APP_ID,
        "appDisplayName": PORTAL_APP_NAME,
        "ipAddress": IP,
        "clientAppUsed": "Browser",
        "conditionalAccessStatus": "notApplied",
        "isInteractive": True,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": PORTAL_APP_NAME,
        "resourceId": PORTAL_APP_ID,
        "status": {"errorCode": 0, "failureReason": None, "additionalDetails": None},
        "deviceDetail": {
            "deviceId": "",
            "displayName": "",
            "operatingSystem": "",
            "browser": "",
            "isCompliant": False,
            "isManaged": False,
            "trustType": "",
        },
        "location": {
            "city": None,
            "state": None,
            "countryOrRegion": None,
            "geoCoordinates": {"altitude": None, "latitude": None, "longitude": None},
        },
        "appliedConditionalAccessPolicies": [],
    }


def test_failures_carry_the_user_as_typed_and_the_reason(
    api: TestClient, reader: dict[str, str], history: History
) -> None:
    newest, disabled, stranger, mistyped, _ = listed(api.get(SIGNINS, headers=reader))
    assert (mistyped["userPrincipalName"], mistyped["userId"], mistyped["ipAddress"]) == (
        "ada@contoso.example",
        history.ada.id,
        OTHER_IP,
    )
    assert mistyped["status"] == {
        "errorCode": 50126,
        "failureReason": "The Temporary Access Pass was wrong.",
        "additionalDetails": None,
    }
    assert (stranger["userPrincipalName"], stranger["userId"], stranger["userDisplayName"]) == (
        "nobody@contoso.example",
        None,
        None,
    )
    assert stranger["status"]["failureReason"] == "No account with this username."
    assert (disabled["userId"], disabled["status"]["failureReason"]) == (
        history.bob.id,
        "User account is disabled.",
    )
    assert (newest["appId"], newest["appDisplayName"], newest["resourceId"]) == (
        history.app.app_id,
        "Payroll",
        history.app.app_id,
    )


def test_beta_adds_authentication_details_and_requirement(
    api: TestClient, reader: dict[str, str], history: History
) -> None:
    body = api.get(BETA_SIGNINS, headers=reader).json()
    assert body["@odata.context"] == "http://localhost:8000/beta/$metadata#auditLogs/signIns"
    newest, _, _, mistyped, _ = body["value"]
    assert set(newest) == V1_KEYS | BETA_ONLY
    assert newest["authenticationRequirement"] == "multiFactorAuthentication"
    assert newest["authenticationDetails"] == [
        {
            "authenticationStepDateTime": "2026-01-01T09:50:00Z",
            "authenticationMethod": "Temporary Access Pass",
            "authenticationMethodDetail": None,
            "succeeded": True,
            "authenticationStepResultDetail": "Authentication succeeded",
            "authenticationStepRequirement": "Primary authentication",
        }
    ]
    [step] = mistyped["authenticationDetails"]
    assert (step["succeeded"], step["authenticationStepResultDetail"]) == (
        False,
        "The Temporary Access Pass was wrong.",
    )
    v1 = listed(api.get(SIGNINS, headers=reader))
    assert [{k: e[k] for k in V1_KEYS} for e in body["value"]] == v1


def test_top_pages_with_next_link_until_done(
    api: TestClient, reader: dict[str, str], history: History
) -> None:
    everything = [e["id"] for e in listed(api.get(SIGNINS, headers=reader))]
    seen: list[str] = []
    url: str | None = f"{SIGNINS}?$top=2"
    pages = 0
    while url is not None:
        body = api.get(url, headers=reader).json()
        assert len(body["value"]) == (2 if pages < 2 else 1)
        seen += [e["id"] for e in body["value"]]
        url = body.get("@odata.nextLink")
        if url is not None:
            assert url.startswith("http://localhost:8000/v1.0/auditLogs/signIns?")
        pages += 1
    assert (seen, pages) == (everything, 3)


def test_next_link_keeps_the_filter(api: TestClient, reader: dict[str, str], history: History) -> None:
    wanted = "status/errorCode eq 50126 or createdDateTime ge 2026-01-01T09:00:00Z"
    assert_graph_error(api.get(SIGNINS, params={"$filter": wanted}, headers=reader), 400, "badRequest")
    wanted = "createdDateTime ge 2026-01-01T09:20:00Z"
    first = api.get(SIGNINS, params={"$top": "3", "$filter": wanted}, headers=reader).json()
    assert [e["createdDateTime"][11:16] for e in first["value"]] == ["09:50", "09:40", "09:30"]
    second = api.get(first["@odata.nextLink"], headers=reader)
    assert outcomes(second) == [("09:20", 50126)]
    assert "@odata.nextLink" not in second.json()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("createdDateTime ge 2026-01-01T09:40:00Z", [("09:50", 0), ("09:40", 50057)]),
        ("createdDateTime gt 2026-01-01T09:40:00Z", [("09:50", 0)]),
        ("createdDateTime le 2026-01-01T09:20:00Z", [("09:20", 50126), ("09:10", 0)]),
        ("createdDateTime lt 2026-01-01T09:20:00Z", [("09:10", 0)]),
        ("createdDateTime eq 2026-01-01T09:30:00Z", [("09:30", 50126)]),
        (
            "createdDateTime ge 2026-01-01T09:20:00Z and createdDateTime lt 2026-01-01T09:40:00Z",
            [("09:30", 50126), ("09:20", 50126)],
        ),
        # A timestamp without an offset is UTC; one with an offset is converted; quotes are allowed.
        ("createdDateTime ge 2026-01-01T09:45:00", [("09:50", 0)]),
        ("createdDateTime le '2026-01-01T10:15:00.5+01:00'", [("09:10", 0)]),
        ("userPrincipalName eq 'ada@contoso.example'", [("09:50", 0), ("09:20", 50126), ("09:10", 0)]),
        # UPNs compare without regard to case, as everywhere in the directory.
        ("userPrincipalName eq 'NOBODY@contoso.example'", [("09:30", 50126)]),
        ("userPrincipalName eq 'O''Brien@contoso.example'", []),
        ("status/errorCode eq 0", [("09:50", 0), ("09:10", 0)]),
        ("status/errorCode eq 50057", [("09:40", 50057)]),
        ("Status/ErrorCode EQ 50126", [("09:30", 50126), ("09:20", 50126)]),
        (
            "userPrincipalName eq 'ada@contoso.example'  and  status/errorCode eq 50126",
            [("09:20", 50126)],
        ),
        (
            f"appId eq '{PORTAL_APP_ID.upper()}'",
            [("09:40", 50057), ("09:30", 50126), ("09:20", 50126), ("09:10", 0)],
        ),
    ],
)
def test_filter_selects_matching_entries(
    api: TestClient,
    reader: dict[str, str],
    history: History,
    expression: str,
    expected: list[tuple[str, int]],
) -> None:
    assert outcomes(api.get(SIGNINS, params={"$filter": expression}, headers=reader)) == expected


def test_filter_by_user_id_and_app_id(api: TestClient, reader: dict[str, str], history: History) -> None:
    by_user = f"userId eq '{history.bob.id}'"
    assert outcomes(api.get(SIGNINS, params={"$filter": by_user}, headers=reader)) == [("09:40", 50057)]
    by_app = f"appId eq '{history.app.app_id}' and userId eq '{history.ada.id}'"
    assert outcomes(api.get(BETA_SIGNINS, params={"$filter": by_app}, headers=reader)) == [("09:50", 0)]
    nobody = f"userId eq '{history.ada.id}' and userId eq '{history.bob.id}'"
    assert outcomes(api.get(SIGNINS, params={"$filter": nobody}, headers=reader)) == []


@pytest.mark.parametrize(
    "expression",
    [
        "ipAddress eq '203.0.113.7'",
        "startswith(userPrincipalName, 'ada')",
        "userPrincipalName eq 'ada@contoso.example' or userId eq 'x'",
        "userPrincipalName ne 'ada@contoso.example'",
        "status/errorCode eq '0'",
        "status/errorCode eq 0.5",
        "status/errorCode eq -1",
        "createdDateTime ge today",
        "userId eq x",
        "(userId eq 'x')",
        "userId eq 'x' and",
        "",
    ],
)
def test_unsupported_filter_is_400_names_what_is_supported_and_changes_nothing(
    api: TestClient, env: Env, reader: dict[str, str], history: History, expression: str
) -> None:
    before = stored_rows(env)
    for url in (SIGNINS, BETA_SIGNINS):
        error = assert_graph_error(
            api.get(url, params={"$filter": expression}, headers=reader), 400, "badRequest"
        )
        assert "Supported: createdDateTime eq|ge|le|gt|lt <timestamp>" in error["message"]
    assert stored_rows(env) == before


def test_invalid_timestamp_top_and_orderby_are_400(api: TestClient, reader: dict[str, str]) -> None:
    response = api.get(SIGNINS, params={"$filter": "createdDateTime ge 2026-13-01T00:00:00Z"}, headers=reader)
    error = assert_graph_error(response, 400, "badRequest")
    assert error["message"] == "Invalid timestamp '2026-13-01T00:00:00Z' in $filter."
    assert_graph_error(api.get(SIGNINS, params={"$top": "1000"}, headers=reader), 400, "badRequest")
    error = assert_graph_error(
        api.get(SIGNINS, params={"$orderby": "userId"}, headers=reader), 400, "badRequest"
    )
    assert error["message"] == "Unsupported $orderby 'userId'. Supported: createdDateTime asc|desc."


def test_orderby_created_date_time_ascending(
    api: TestClient, reader: dict[str, str], history: History
) -> None:
    params = {"$orderby": "createdDateTime asc", "$filter": "status/errorCode eq 50126"}
    assert outcomes(api.get(SIGNINS, params=params, headers=reader)) == [("09:20", 50126), ("09:30", 50126)]
    params = {"$orderby": "createdDateTime desc", "$top": "1"}
    assert outcomes(api.get(SIGNINS, params=params, headers=reader)) == [("09:50", 0)]


@pytest.mark.parametrize(("version", "keys"), [("v1.0", V1_KEYS), ("beta", V1_KEYS | BETA_ONLY)])
def test_get_one_entry_by_id(
    api: TestClient, reader: dict[str, str], history: History, version: str, keys: set[str]
) -> None:
    newest = listed(api.get(f"/{version}/auditLogs/signIns", headers=reader))[0]
    response = api.get(f"/{version}/auditLogs/signIns/{newest['id']}", headers=reader)
    assert response.status_code == 200
    body = response.json()
    assert (
        body.pop("@odata.context") == f"http://localhost:8000/{version}/$metadata#auditLogs/signIns/$entity"
    )
    assert body == newest
    assert set(body) == keys


def test_unknown_entry_is_404(api: TestClient, reader: dict[str, str], history: History) -> None:
    error = assert_graph_error(api.get(f"{SIGNINS}/no-such-entry", headers=reader), 404, "itemNotFound")
    assert error["message"] == "No sign-in log entry with id 'no-such-entry' exists."


@pytest.mark.parametrize("path", [SIGNINS, f"{BETA_SIGNINS}/anything", f"{SIGNINS}?$filter=nonsense"])
def test_reading_needs_auditlog_read_all(api: TestClient, app_auth: TokenFactory, path: str) -> None:
    response = api.get(path, headers=app_auth("UserAuthenticationMethod.ReadWrite.All", "User.Read.All"))
    error = assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert error["message"] == (
        "Insufficient privileges to complete the operation. Requires one of: AuditLog.Read.All."
    )


def test_global_reader_may_read_and_other_users_may_not(api: TestClient, env: Env, history: History) -> None:
    reader = make_user(env, roles=(Role.GLOBAL_READER.display_name,))
    assert len(listed(api.get(SIGNINS, headers=user_auth(env, reader, "AuditLog.Read.All")))) == 5
    helpdesk = make_user(env, roles=(Role.AUTHENTICATION_ADMINISTRATOR.display_name,))
    response = api.get(SIGNINS, headers=user_auth(env, helpdesk, "AuditLog.Read.All"))
    error = assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert error["message"] == "Reading the audit log needs the Global Reader or Global Administrator role."
    # Ada's own sign-ins are not hers to read either: reading the log is an administrator's right.
    response = api.get(SIGNINS, headers=user_auth(env, history.ada, "AuditLog.Read.All"))
    assert_graph_error(response, 403, "Authorization_RequestDenied")


def test_no_pass_value_appears_in_any_response_or_row(
    api: TestClient, env: Env, reader: dict[str, str], history: History, tenant: Initialised
) -> None:
    texts: list[str] = []
    for url in (SIGNINS, BETA_SIGNINS):
        listing = api.get(url, headers=reader)
        texts.append(listing.text)
        texts += [api.get(f"{url}/{e['id']}", headers=reader).text for e in listed(listing)]
        texts.append(api.get(url, params={"$filter": "status/errorCode eq 50126"}, headers=reader).text)
    texts.append(stored_rows(env))
    everything = "\n".join(texts)
    # The capture is real: the entries and their details are in it.
    assert everything.count("Temporary Access Pass") >= 20
    for secret in (history.pass_value, *history.wrong_guesses, tenant.bootstrap_pass.value):
        assert secret not in everything
