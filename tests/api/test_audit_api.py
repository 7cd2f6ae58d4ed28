"""The directory audit log over Graph: shape, order, paging, $filter in SQL, and who may read it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from passbridge.clock import ManualClock
from passbridge.directory.rules import Role
from passbridge.directory.service import DirectoryService
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env, operator
from passbridge.store.models import Group, User
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.api.test_policy_api import user_auth
from tests.factories import make_group, make_user

AUDITS = "/v1.0/auditLogs/directoryAudits"


@pytest.fixture
def reader(app_auth: TokenFactory) -> dict[str, str]:
    return app_auth("AuditLog.Read.All")


@pytest.fixture
def history(env: Env, clock: ManualClock, reader: dict[str, str]) -> dict[str, Any]:
    """Entries ten minutes apart from 09:10 (after the reader's app): a user, a group, then the user
    joining the group. Tokens live an hour, so the history stays within it."""
    clock.advance(minutes=10)
    ada = make_user(env, "ada@contoso.example", display_name="Ada")
    clock.advance(minutes=10)
    group = make_group(env, "O'Brien's team")
    clock.advance(minutes=10)
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).add_member(group.id, ada.id)
    return {"ada": ada, "group": group}


def activities(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["activityDisplayName"] for e in response.json()["value"]]


def test_entries_come_newest_first_in_graph_shape(
    api: TestClient, reader: dict[str, str], history: dict[str, Any], tenant: Initialised
) -> None:
    response = api.get(AUDITS, headers=reader)
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == "http://localhost:8000/v1.0/$metadata#auditLogs/directoryAudits"
    assert "@odata.nextLink" not in body
    assert [e["activityDisplayName"] for e in body["value"][:3]] == [
        "Add member to group",
        "Add group",
        "Add user",
    ]
    newest = body["value"][0]
    ada: User = history["ada"]
    group: Group = history["group"]
    assert set(newest) == {
        "id",
        "category",
        "correlationId",
        "result",
        "resultReason",
        "activityDisplayName",
        "activityDateTime",
        "loggedByService",
        "operationType",
        "initiatedBy",
        "targetResources",
        "additionalDetails",
    }
    assert newest["activityDateTime"] == "2026-01-01T09:30:00Z"
    assert (newest["category"], newest["loggedByService"], newest["operationType"]) == (
        "GroupManagement",
        "Core Directory",
        "Assign",
    )
    assert [t["id"] for t in newest["targetResources"]] == [ada.id, group.id]
    # The bootstrap pass created at init is audited, but its value is in no entry.
    everything = api.get(AUDITS, headers=reader).text
    assert tenant.bootstrap_pass.value not in everything
    assert "Admin registered security info" in everything


def test_top_pages_with_next_link_until_done(
    api: TestClient, reader: dict[str, str], history: dict[str, Any]
) -> None:
    everything = api.get(AUDITS, headers=reader).json()["value"]
    seen: list[str] = []
    url: str | None = f"{AUDITS}?$top=2"
    pages = 0
    while url is not None:
        body = api.get(url, headers=reader).json()
        assert len(body["value"]) <= 2
        seen += [e["id"] for e in body["value"]]
        url = body.get("@odata.nextLink")
        if url is not None:
            assert url.startswith("http://localhost:8000/v1.0/auditLogs/directoryAudits?")
        pages += 1
    assert seen == [e["id"] for e in everything]
    assert pages == (len(everything) + 1) // 2


def test_next_link_keeps_the_filter(api: TestClient, reader: dict[str, str], history: dict[str, Any]) -> None:
    wanted = "activityDateTime ge 2026-01-01T09:10:00Z"
    first = api.get(AUDITS, params={"$top": "2", "$filter": wanted}, headers=reader).json()
    assert [e["activityDisplayName"] for e in first["value"]] == ["Add member to group", "Add group"]
    second = api.get(first["@odata.nextLink"], headers=reader)
    assert activities(second) == ["Add user"]
    assert "@odata.nextLink" not in second.json()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("activityDateTime ge 2026-01-01T09:20:00Z", ["Add member to group", "Add group"]),
        ("activityDateTime gt 2026-01-01T09:20:00Z", ["Add member to group"]),
        (
            "activityDateTime le 2026-01-01T09:10:00Z and activityDateTime ge 2026-01-01T09:10:00Z",
            ["Add user"],
        ),
        (
            "activityDateTime ge 2026-01-01T09:10:00Z and activityDateTime lt 2026-01-01T09:30:00Z",
            ["Add group", "Add user"],
        ),
        # A timestamp without an offset is UTC; one with an offset is converted.
        (
            "activityDateTime ge 2026-01-01T09:20:00 and activityDateTime lt 2026-01-01T10:30:00+01:00",
            ["Add group"],
        ),
        ("activityDateTime ge '2026-01-01T09:25:00.1234567Z'", ["Add member to group"]),
        ("activityDisplayName eq 'Add group'", ["Add group"]),
        ("category eq 'GroupManagement'", ["Add member to group", "Add group"]),
        ("category eq 'GroupManagement' and activityDisplayName eq 'Add group'", ["Add group"]),
        ("category   EQ   'UserManagement'  and  activityDateTime ge 2026-01-01T09:10:00Z", ["Add user"]),
        ("activityDisplayName eq 'add group'", []),
    ],
)
def test_filter_selects_matching_entries(
    api: TestClient, reader: dict[str, str], history: dict[str, Any], expression: str, expected: list[str]
) -> None:
    assert activities(api.get(AUDITS, params={"$filter": expression}, headers=reader)) == expected


def test_filter_by_target_id(api: TestClient, reader: dict[str, str], history: dict[str, Any]) -> None:
    ada: User = history["ada"]
    group: Group = history["group"]
    by_user = f"targetResources/any(t: t/id eq '{ada.id}')"
    assert activities(api.get(AUDITS, params={"$filter": by_user}, headers=reader)) == [
        "Add member to group",
        "Add user",
    ]
    both = f"targetResources/any(x:x/id eq '{group.id}') and targetResources/any(t: t/id eq '{ada.id}')"
    assert activities(api.get(AUDITS, params={"$filter": both}, headers=reader)) == ["Add member to group"]


def test_filter_strings_use_odata_quote_escaping(
    api: TestClient, reader: dict[str, str], history: dict[str, Any]
) -> None:
    group: Group = history["group"]
    found = api.get(AUDITS, params={"$filter": "activityDisplayName eq 'Add group'"}, headers=reader).json()
    assert found["value"][0]["targetResources"][0]["displayName"] == "O'Brien's team"
    quoted = "activityDisplayName eq 'It''s not there' and targetResources/any(t: t/id eq '" + group.id + "')"
    assert activities(api.get(AUDITS, params={"$filter": quoted}, headers=reader)) == []


@pytest.mark.parametrize(
    "expression",
    [
        "result eq 'success'",
        "category eq 'Policy' or category eq 'UserManagement'",
        "activityDateTime eq 2026-01-01T09:10:00Z",
        "startswith(activityDisplayName, 'Add')",
        "category eq 'Policy' and",
        "category eq Policy",
        "targetResources/any(t: s/id eq 'x')",
        "(category eq 'Policy')",
        "",
    ],
)
def test_unsupported_filter_is_400_and_names_what_is_supported(
    api: TestClient, reader: dict[str, str], expression: str
) -> None:
    error = assert_graph_error(
        api.get(AUDITS, params={"$filter": expression}, headers=reader), 400, "badRequest"
    )
    assert "Supported: activityDateTime ge|le|gt|lt <timestamp>" in error["message"]


def test_invalid_timestamp_is_400(api: TestClient, reader: dict[str, str]) -> None:
    response = api.get(AUDITS, params={"$filter": "activityDateTime ge 2026-13-01T00:00:00Z"}, headers=reader)
    error = assert_graph_error(response, 400, "badRequest")
    assert error["message"] == "Invalid timestamp '2026-13-01T00:00:00Z' in $filter."


def test_invalid_top_is_400(api: TestClient, reader: dict[str, str]) -> None:
    assert_graph_error(api.get(AUDITS, params={"$top": "0"}, headers=reader), 400, "badRequest")


def test_orderby_activity_date_time_ascending(
    api: TestClient, reader: dict[str, str], history: dict[str, Any]
) -> None:
    params = {"$filter": "activityDateTime ge 2026-01-01T09:10:00Z", "$orderby": "activityDateTime asc"}
    assert activities(api.get(AUDITS, params=params, headers=reader)) == [
        "Add user",
        "Add group",
        "Add member to group",
    ]
    error = assert_graph_error(
        api.get(AUDITS, params={"$orderby": "category"}, headers=reader), 400, "badRequest"
    )
    assert error["message"] == "Unsupported $orderby 'category'. Supported: activityDateTime asc|desc."


def test_get_one_entry_by_id(api: TestClient, reader: dict[str, str], history: dict[str, Any]) -> None:
    newest = api.get(AUDITS, headers=reader).json()["value"][0]
    response = api.get(f"/beta/auditLogs/directoryAudits/{newest['id']}", headers=reader)
    assert response.status_code == 200
    body = response.json()
    assert (
        body.pop("@odata.context") == "http://localhost:8000/beta/$metadata#auditLogs/directoryAudits/$entity"
    )
    assert body == newest


def test_unknown_entry_is_404(api: TestClient, reader: dict[str, str]) -> None:
    error = assert_graph_error(api.get(f"{AUDITS}/no-such-entry", headers=reader), 404, "itemNotFound")
    assert error["message"] == "No directory audit entry with id 'no-such-entry' exists."


@pytest.mark.parametrize("path", [AUDITS, f"{AUDITS}/anything", f"{AUDITS}?$filter=nonsense"])
def test_reading_needs_auditlog_read_all(api: TestClient, app_auth: TokenFactory, path: str) -> None:
    response = api.get(path, headers=app_auth("Policy.Read.All", "User.Read.All"))
    error = assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert error["message"] == (
        "Insufficient privileges to complete the operation. Requires one of: AuditLog.Read.All."
    )


def test_global_reader_may_read_and_other_users_may_not(api: TestClient, env: Env) -> None:
    reader = make_user(env, roles=(Role.GLOBAL_READER.display_name,))
    assert api.get(AUDITS, headers=user_auth(env, reader, "AuditLog.Read.All")).status_code == 200
    helpdesk = make_user(env, roles=(Role.AUTHENTICATION_ADMINISTRATOR.display_name,))
    response = api.get(AUDITS, headers=user_auth(env, helpdesk, "AuditLog.Read.All"))
    error = assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert error["message"] == "Reading the audit log needs the Global Reader or Global Administrator role."
