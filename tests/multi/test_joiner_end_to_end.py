"""A joiner from the HR system to a passkey, with no helpdesk in between: the HR system provisions the new
hire with a hire date and a manager over SCIM; the joiner workflow mails the manager a pass through a real
SMTP server; the new hire signs in with it in headless Chromium and registers a passkey. On PostgreSQL two
server processes run the workflow side by side, and exactly one mail goes out."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.multi.test_pass_race import pg_store
from tests.servers import PASSBRIDGE, free_port, initialised_store, serving
from tests.smtp import SmtpServer, smtp_server
from tests.web.browser import Watched, enter_username
from tests.web.test_passwordless_browser import Authenticator

pytestmark = pytest.mark.multi

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
OURS = "urn:ietf:params:scim:schemas:extension:passbridge:2.0:User"
PASS_IN_MAIL = re.compile(r"Temporary Access Pass:\s+([A-Za-z0-9]+(?: [A-Za-z0-9]+)*)")
FAST = {"PASSBRIDGE_JOINER_POLL_SECONDS": "0.5", "PASSBRIDGE_MAIL_POLL_SECONDS": "0.5"}


@contextmanager
def sqlite_store(tmp_path: Path, smtp: SmtpServer) -> Iterator[dict[str, str]]:
    yield initialised_store(
        tmp_path, PASSBRIDGE_SMTP_URL=smtp.url, PASSBRIDGE_MAIL_FROM="id@contoso.example", **FAST
    )


def _cli(environ: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(PASSBRIDGE), *args], env=environ, check=True, capture_output=True, text=True
    ).stdout


def _scim_post(base: str, token: str, body: dict[str, object]) -> dict[str, object]:
    response = httpx.post(f"{base}/scim/v2/Users", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_joiner_provisioned_over_scim_signs_in_with_the_mailed_pass_and_registers_a_passkey(
    tmp_path: Path,
    chromium: Browser,
    database: str,
) -> None:
    with ExitStack() as stack:
        smtp = stack.enter_context(smtp_server())
        if database == "postgresql":
            mail = {"PASSBRIDGE_SMTP_URL": smtp.url, "PASSBRIDGE_MAIL_FROM": "id@contoso.example", **FAST}
            environ = {**stack.enter_context(pg_store(tmp_path)).environ, **mail}
            nodes = 2
        else:
            environ = stack.enter_context(sqlite_store(tmp_path, smtp))
            nodes = 1
        token = json.loads(_cli(environ, "provisioning", "token", "add", "Workday", "--json"))["token"]
        _cli(environ, "joiner", "set", "--enable", "--days-before", "1", "--one-time")
        bases = []
        for index in range(nodes):
            port = free_port()
            base = f"http://localhost:{port}"
            stack.enter_context(
                serving({**environ, "PASSBRIDGE_BASE_URL": base}, port, tmp_path / f"node{index}.log")
            )
            bases.append(base)

        # The HR system: the manager, then the new hire starting tomorrow morning, reporting to her.
        grace = _scim_post(
            bases[0],
            token,
            {
                "schemas": [USER],
                "userName": "grace@contoso.example",
                "displayName": "Grace Hopper",
                "emails": [{"value": "grace@contoso.example", "type": "work"}],
            },
        )
        hire = (datetime.now(UTC) + timedelta(hours=12)).replace(microsecond=0)
        _scim_post(
            bases[-1],
            token,
            {
                "schemas": [USER, ENTERPRISE, OURS],
                "userName": "ada@contoso.example",
                "displayName": "Ada Lovelace",
                "externalId": "WD-1001",
                ENTERPRISE: {"department": "Finance", "manager": {"value": grace["id"]}},
                OURS: {"employeeHireDate": hire.isoformat().replace("+00:00", "Z")},
            },
        )
        [mail] = smtp.inbox.wait_for(1, timeout=30)
        assert mail["To"] == "grace@contoso.example"
        body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found = PASS_IN_MAIL.search(body)
        assert found is not None, body
        value = found.group(1).replace(" ", "")
        # Every node has had several turns since: still the one mail.
        time.sleep(3)
        assert len(smtp.inbox.received) == 1

        context = chromium.new_context(base_url=bases[0], viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            w = Watched(page, f"joiner-{database}")
            page.on("console", w.on_console)
            page.on("response", w.on_response)
            authenticator = Authenticator(context, page)
            page.goto("/apps")
            enter_username(w, "ada@contoso.example")
            page.get_by_label("Temporary Access Pass", exact=True).fill(value)
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
            w.shot("setup-methods")
            page.get_by_role("link", name="Add a passkey").click()
            page.get_by_label("Name", exact=True).fill("Laptop")
            page.get_by_role("button", name="Add a passkey").click()
            expect(page.get_by_text("Your passkey was added.")).to_be_visible()
            w.shot("passkey-added")
            assert len(authenticator.credentials()) == 1
            w.assert_clean()
        finally:
            context.close()
        runs = json.loads(_cli(environ, "joiner", "runs", "--json"))
        assert [(r["userPrincipalName"], r["state"], r["mailedTo"]) for r in runs] == [
            ("ada@contoso.example", "issued", ["grace@contoso.example"])
        ]
