"""Dual control through Microsoft's Graph SDK for Python against a running Passbridge: a script's POST to
temporaryAccessPassMethods that needs approval answers 202 Accepted, which the SDK reads as a
temporaryAccessPassAuthenticationMethod without a pass (no exception): its additionalData says the request's
state and id. After an administrator approves (here the operator's CLI, an identity of its own), the script
collects the pass from the beta extension. The operator never approves its own request."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from msgraph.generated.models.temporary_access_pass_authentication_method import (
    TemporaryAccessPassAuthenticationMethod,
)

from tests.api.test_msgraph_sdk import graph_client
from tests.servers import PASSBRIDGE, ServedStore, served_store
from tests.web.browser import cli

DIEGO = "diego@contoso.example"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedStore]:
    with served_store(tmp_path, "UserAuthenticationMethod.ReadWrite.All") as served:
        cli(served, "user", "add", DIEGO, "--display-name", "Diego Siciliani")
        cli(served, "role", "assign", "Groups Administrator", DIEGO)
        cli(served, "tap", "approval", "set", "--enable")
        yield served


def test_a_graph_script_gets_a_pending_request_not_an_exception_and_collects_once_approved(
    server: ServedStore,
) -> None:
    token = server.app_token()
    client = graph_client(server.base, token)

    async def post() -> TemporaryAccessPassAuthenticationMethod | None:
        passes = client.users.by_user_id(DIEGO).authentication.temporary_access_pass_methods
        return await passes.post(TemporaryAccessPassAuthenticationMethod(lifetime_in_minutes=60))

    pending = asyncio.run(post())
    assert pending is not None and pending.temporary_access_pass is None
    assert pending.lifetime_in_minutes == 60
    assert pending.additional_data["state"] == "pending"
    request_id = pending.id
    assert request_id is not None

    listed = json.loads(cli(server, "tap", "request", "list", "--state", "pending", "--json"))
    assert [r["id"] for r in listed] == [request_id]
    cli(server, "tap", "request", "approve", request_id, "--note", "ticket checked")

    headers = {"Authorization": f"Bearer {token}"}
    url = f"{server.base}/beta/passbridge/temporaryAccessPassRequests/{request_id}/issue"
    collected = httpx.post(url, headers=headers)
    assert collected.status_code == 201, collected.text
    assert collected.json()["temporaryAccessPass"]
    assert httpx.post(url, headers=headers).status_code == 409


def test_the_operator_cannot_approve_its_own_request(server: ServedStore) -> None:
    out = json.loads(cli(server, "tap", "issue", DIEGO, "--json"))
    assert out["state"] == "pending" and "temporaryAccessPass" not in out
    done = subprocess.run(
        [str(PASSBRIDGE), "tap", "request", "approve", out["id"]],
        env=server.environ,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be approved by its requester" in lines[0]
