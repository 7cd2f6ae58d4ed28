"""`$skiptoken` remembers where a page ended (the last item's sort key), not how many items came before:
following nextLinks visits every item once even when items are added or removed between pages, and a
token is accepted only by the collection it was made for and only as this server made it."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from passbridge.directory.service import DirectoryService
from passbridge.logs import audit, signin_log_queries
from passbridge.logs.audit import TargetRef
from passbridge.services.context import Env, operator
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import make_group, make_user

READ = ("User.Read.All", "Group.Read.All", "AuditLog.Read.All")


def _follow(api: TestClient, url: str, headers: dict[str, str], between: Any = None) -> list[str]:
    """Every id on every page from `url`, calling `between(page_number)` after each page but the last."""
    seen: list[str] = []
    page = 0
    next_url: str | None = url
    while next_url is not None:
        response = api.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["value"]]
        next_url = body.get("@odata.nextLink")
        page += 1
        if next_url is not None and between is not None:
            between(page)
    return seen


def test_paging_users_returns_each_exactly_once_when_users_are_added_between_pages(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    for n in range(6):
        make_user(env, f"m{n}@contoso.example")
    before = {item["id"] for item in api.get("/v1.0/users", headers=app_auth(*READ)).json()["value"]}
    added: list[str] = []

    def add_in_front(page: int) -> None:
        # Sorts before every page already read: an offset would now repeat the last one read.
        added.append(make_user(env, f"a{page}@contoso.example").id)

    seen = _follow(api, "/v1.0/users?$top=2", app_auth(*READ), add_in_front)
    assert len(seen) == len(set(seen))
    assert before <= set(seen) and not set(added) & set(seen)


def test_paging_users_skips_none_when_users_are_removed_between_pages(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    for n in range(6):
        make_user(env, f"m{n}@contoso.example")
    headers = app_auth(*READ)
    everyone = [item["id"] for item in api.get("/v1.0/users", headers=headers).json()["value"]]
    removed: list[str] = []

    def remove_one_read(page: int) -> None:
        # The last user read goes: an offset would now skip the first user of the next page.
        victim = everyone[page * 2 - 1]
        with env.db.transaction() as tx:
            DirectoryService(tx, env, operator()).delete_user(victim)
        removed.append(victim)

    seen = _follow(api, "/v1.0/users?$top=2", headers, remove_one_read)
    assert seen == everyone


def test_paging_groups_returns_each_exactly_once_when_groups_are_added_between_pages(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    for n in range(5):
        make_group(env, f"Team {n}")
    before = {item["id"] for item in api.get("/v1.0/groups", headers=app_auth(*READ)).json()["value"]}
    seen = _follow(api, "/v1.0/groups?$top=2", app_auth(*READ), lambda page: make_group(env, f"A {page}"))
    assert len(seen) == len(set(seen)) and before <= set(seen)


def _sign_in_entry(env: Env, when: datetime) -> str:
    entry_id = str(uuid.uuid4())
    with env.db.transaction() as tx:
        signin_log_queries.add(
            tx,
            {"id": entry_id, "created_at": when, "user_id": None, "user_principal_name": "x@contoso.example",
             "user_display_name": None, "app_id": None, "app_display_name": "My apps", "ip_address": None,
             "client_app_used": "Browser", "correlation_id": entry_id, "is_interactive": True,
             "error_code": 50126, "failure_reason": None, "authentication_details": [],
             "authentication_requirement": "singleFactorAuthentication"},
        )  # fmt: skip
    return entry_id


def _audit_entry(env: Env, when: datetime) -> str:
    with env.db.transaction() as tx:
        target = TargetRef(str(uuid.uuid4()), "x", "User")
        entry = audit.record(
            tx, now=when, principal=operator(), activity="Update user", category="UserManagement",
            operation_type="Update", targets=[target],
        )  # fmt: skip
        return entry.id


@pytest.mark.parametrize(
    ("path", "add"),
    [("/v1.0/auditLogs/directoryAudits", _audit_entry), ("/v1.0/auditLogs/signIns", _sign_in_entry)],
    ids=["audit", "sign-ins"],
)
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_paging_a_log_returns_each_entry_once_when_entries_arrive_between_pages(
    api: TestClient, app_auth: TokenFactory, env: Env, path: str, add: Any, order: str
) -> None:
    start = env.clock.now() - timedelta(minutes=30)
    # Three entries share each instant, so that pages end inside a run of equal times.
    for n in range(9):
        add(env, start + timedelta(minutes=n // 3))
    headers = app_auth(*READ)
    url = f"{path}?$orderby={'activityDateTime' if 'Audits' in path else 'createdDateTime'} {order}"
    everything = [item["id"] for item in api.get(url, headers=headers).json()["value"]]
    # New entries are newest: with an offset each would push a read entry back onto the next page.
    seen = _follow(api, f"{url}&$top=2", headers, lambda page: add(env, env.clock.now()))
    assert len(seen) == len(set(seen))
    assert [e for e in seen if e in everything] == everything


def _users_token(api: TestClient, headers: dict[str, str]) -> str:
    link = api.get("/v1.0/users?$top=1", headers=headers).json()["@odata.nextLink"]
    return parse_qs(urlsplit(link).query)["$skiptoken"][0]


def test_a_skiptoken_in_the_old_offset_form_is_400(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    make_user(env, "m@contoso.example")
    offset_token = base64.urlsafe_b64encode(b"o:1").decode()
    response = api.get("/v1.0/users", params={"$skiptoken": offset_token}, headers=app_auth(*READ))
    assert assert_graph_error(response, 400, "badRequest")["message"] == "The $skiptoken is invalid."


def test_a_skiptoken_changed_by_the_caller_is_400(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    make_user(env, "m@contoso.example")
    headers = app_auth(*READ)
    body, tag = _users_token(api, headers).split(".")
    forged = base64.urlsafe_b64encode(b'["users","a","00000000-0000-0000-0000-000000000000"]').decode()
    for token in (f"{forged.rstrip('=')}.{tag}", f"{body}.{'0' * len(tag)}", body, "%%%", ""):
        response = api.get("/v1.0/users", params={"$skiptoken": token}, headers=headers)
        assert assert_graph_error(response, 400, "badRequest")["message"] == "The $skiptoken is invalid."


def test_a_skiptoken_works_only_for_the_collection_it_was_made_for(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    make_user(env, "m@contoso.example")
    make_group(env, "Team")
    headers = app_auth(*READ)
    token = _users_token(api, headers)
    for path in ("/v1.0/groups", "/v1.0/auditLogs/directoryAudits", "/v1.0/auditLogs/signIns"):
        response = api.get(path, params={"$skiptoken": token}, headers=headers)
        assert assert_graph_error(response, 400, "badRequest")["message"] == "The $skiptoken is invalid."
    # Members are users in the same order: the users' token is theirs too.
    assert api.get("/v1.0/users", params={"$skiptoken": token}, headers=headers).status_code == 200


def test_a_page_after_a_skiptoken_starts_after_its_item_with_no_offset_in_the_token(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    for n in range(3):
        make_user(env, f"m{n}@contoso.example")
    headers = app_auth(*READ)
    token = _users_token(api, headers)
    body = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    assert decoded.startswith('["users", "admin@contoso.example",')
    second = api.get("/v1.0/users", params={"$skiptoken": token, "$top": "1"}, headers=headers).json()
    assert [u["userPrincipalName"] for u in second["value"]] == ["m0@contoso.example"]
