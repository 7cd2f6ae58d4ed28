"""POST /beta/passbridge/temporaryAccessPassBatches (a Passbridge extension): 202 and a job that runs in the
background, its status, the passes handed out once, the use report, and Graph's error bodies."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from passbridge.services.context import Env
from passbridge.store.models import User
from tests.api.conftest import TokenFactory
from tests.factories import make_group, make_user

BATCHES = "/beta/passbridge/temporaryAccessPassBatches"
WRITE = "UserAuthenticationMethod.ReadWrite.All"


def finished(api: TestClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data: dict[str, Any] = api.get(location, headers=headers).json()
        if data["status"] not in ("notStarted", "running"):
            return data
        time.sleep(0.1)
    raise AssertionError("the batch did not finish in 60 s")


def test_batch_for_names_runs_in_the_background_and_hands_out_the_passes_once(
    api: TestClient, env: Env, ada: User, writer: dict[str, str]
) -> None:
    body = {"userPrincipalNames": [ada.user_principal_name, "ghost@contoso.example"], "isUsableOnce": True}
    created = api.post(BATCHES, json=body, headers=writer)
    assert created.status_code == 202, created.text
    location = created.headers["Location"]
    assert location == f"http://localhost:8000{BATCHES}/{created.json()['id']}"
    assert created.json()["total"] == 2 and '"temporaryAccessPass"' not in created.text
    done = finished(api, location.removeprefix("http://localhost:8000"), writer)
    assert (done["status"], done["issued"], done["refused"], done["isResultAvailable"]) == (
        "succeeded",
        1,
        1,
        True,
    )
    taken = api.post(f"{location}/result", headers=writer)
    assert taken.status_code == 200 and taken.headers["Cache-Control"] == "no-store"
    issued, refused = taken.json()["value"]
    assert issued["userPrincipalName"] == ada.user_principal_name and issued["isUsableOnce"] is True
    assert len(issued["temporaryAccessPass"]) == 8
    assert refused["status"] == "refused" and refused["reason"].startswith("not found:")
    again = api.post(f"{location}/result", headers=writer)
    assert again.status_code == 410 and again.json()["error"]["code"] == "resultGone"
    report = api.get(f"{location}/passes", headers=writer).json()["value"]
    assert [(r["userPrincipalName"], r["use"]) for r in report] == [(ada.user_principal_name, "not used yet")]


def test_batch_for_a_group_needs_a_group_permission(
    api: TestClient, env: Env, app_auth: TokenFactory, writer: dict[str, str]
) -> None:
    group = make_group(env, "New hires", members=(make_user(env).id, make_user(env).id))
    refused = api.post(BATCHES, json={"groupId": group.id}, headers=writer)
    assert refused.status_code == 403 and "Group.Read.All" in refused.json()["error"]["message"]
    both = app_auth(WRITE, "Group.Read.All")
    created = api.post(BATCHES, json={"groupId": group.id, "lifetimeInMinutes": 120}, headers=both)
    assert created.status_code == 202, created.text
    done = finished(api, created.headers["Location"].removeprefix("http://localhost:8000"), both)
    assert (done["status"], done["issued"], done["source"]) == ("succeeded", 2, "group New hires")


def test_batch_refusals_are_graph_errors(
    api: TestClient, env: Env, ada: User, app_auth: TokenFactory, writer: dict[str, str]
) -> None:
    cases: list[tuple[dict[str, Any], dict[str, str], int, str]] = [
        (
            {"userPrincipalNames": [ada.user_principal_name]},
            app_auth("User.Read.All"),
            403,
            "Authorization_RequestDenied",
        ),
        ({}, writer, 400, "badRequest"),
        ({"groupId": "x", "userPrincipalNames": ["a@b.c"]}, writer, 400, "badRequest"),
        ({"userPrincipalNames": []}, writer, 400, "badRequest"),
        ({"userPrincipalNames": "ada"}, writer, 400, "badRequest"),
        ({"userPrincipalNames": ["ada@contoso.example"], "lifetimeInMinutes": 5}, writer, 400, "badRequest"),
        ({"userPrincipalNames": ["ada@contoso.example"], "colour": "red"}, writer, 400, "badRequest"),
        ({"userPrincipalNames": ["a" * 500 + "@contoso.example"]}, writer, 400, "badRequest"),
        ({"groupId": "00000000-0000-0000-0000-000000000000"}, app_auth(WRITE, "Group.Read.All"), 404, ""),
    ]
    for body, headers, status, code in cases:
        answer = api.post(BATCHES, json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert code in answer.json()["error"]["code"]
    missing = api.get(f"{BATCHES}/00000000-0000-0000-0000-000000000000", headers=writer)
    assert missing.status_code == 404 and missing.json()["error"]["message"]
    assert api.post(BATCHES, json={"userPrincipalNames": ["a@b.c"]}).status_code == 401


def test_another_application_cannot_see_or_take_the_batch(
    api: TestClient, ada: User, app_auth: TokenFactory, writer: dict[str, str]
) -> None:
    created = api.post(BATCHES, json={"userPrincipalNames": [ada.user_principal_name]}, headers=writer)
    location = created.headers["Location"].removeprefix("http://localhost:8000")
    finished(api, location, writer)
    other = app_auth(WRITE)
    assert api.get(location, headers=other).status_code == 404
    assert api.post(f"{location}/result", headers=other).status_code == 404
    assert api.post(f"{location}/result", headers=writer).status_code == 200
