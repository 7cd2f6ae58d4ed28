"""Liveness and readiness, in process and from real server processes."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.config import load_settings
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from tests.servers import PASSBRIDGE, free_port, wait_ready

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# "Admin:      UPN" or "Helpdesk:   UPN (role)", then the pass on the next line.
PRINTED_PASS = re.compile(
    r"^(?:Admin|Helpdesk): +(\S+).*\n  One-time Temporary Access Pass: (\S+)", re.MULTILINE
)


def test_healthz_and_readyz_answer_200_when_schema_at_head(env: Env, tenant: Initialised) -> None:
    client = TestClient(create_app(env))
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz", headers={"client-request-id": "abc-123"})
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert ready.headers["client-request-id"] == "abc-123"
    assert len(ready.headers["request-id"]) == 36


def test_readyz_503_with_reason_when_schema_missing(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}", pepper="p" * 40
    )
    env = Env.from_settings(settings, clock)
    response = TestClient(create_app(env)).get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        # The expected revision is the newest migration, whichever that is.
        "reason": f"schema at revision none, expected {env.db.head_revision()}; run 'passbridge db upgrade'",
    }


def test_readyz_503_when_database_unreachable(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        data_dir=tmp_path, pepper="p" * 40, database_url="postgresql+psycopg://u:pw@127.0.0.1:1/none"
    )
    response = TestClient(create_app(Env.from_settings(settings, clock))).get("/readyz")
    assert response.status_code == 503
    assert response.json()["reason"].startswith("database unavailable:")


def _signs_in(base: str, username: str, value: str) -> bool:
    """The login pages, as a browser walks them: username, then the pass; True when a session opens."""
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        page = client.get("/login")
        csrf = CSRF.search(page.text)
        assert page.status_code == 200 and csrf is not None, page.text
        named = client.post("/login", data={"csrf_token": csrf.group(1), "username": username})
        assert (named.status_code, named.headers.get("location")) == (303, "/login/pass"), named.text
        proved = client.post("/login/pass", data={"csrf_token": csrf.group(1), "pass": value})
        return proved.status_code == 303 and "pb_session" in proved.cookies


def test_demo_command_serves_a_ready_tenant_and_prints_sign_in(tmp_path: Path) -> None:
    """The README's demo command, end to end, on SQLite in a fresh data dir: it prints a one-time pass
    for the administrator and one for the helpdesk's Authentication Administrator, and both sign in."""
    port = free_port()
    base = f"http://localhost:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    env["PASSBRIDGE_DATA_DIR"] = str(tmp_path / "var")
    log = tmp_path / "demo.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [str(PASSBRIDGE), "demo", "--port", str(port)], env=env, text=True, stdout=sink, stderr=sink
        )
        try:
            ready = wait_ready(f"{base}/readyz", proc)
            assert ready.status_code == 200 and ready.json() == {"status": "ready"}
            output = log.read_text()
            printed = dict(PRINTED_PASS.findall(output))
            assert set(printed) == {"admin@contoso.example", "megan.bowen@contoso.example"}, output
            assert "Helpdesk:   megan.bowen@contoso.example (Authentication Administrator)" in output
            for username, value in printed.items():
                assert _signs_in(base, username, value), username
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert f"Sign in at: {base}/login" in output
    assert f"Admin portal (issue passes from a browser): {base}/admin" in output
    assert (tmp_path / "var" / "passbridge.db").exists()
    assert oct((tmp_path / "var" / "pepper").stat().st_mode & 0o777) == "0o600"
