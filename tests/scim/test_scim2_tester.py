"""python-scim's compliance checker, unmodified, against /scim/v2 of a real server with a provisioning
token: every check it runs must pass (a skipped check is one the checker itself decides does not apply)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.servers import PASSBRIDGE, free_port, initialised_store, serving


def test_scim2_tester_reports_no_failure(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://localhost:{port}"
    environ = initialised_store(tmp_path, PASSBRIDGE_BASE_URL=base)
    made = subprocess.run(
        [str(PASSBRIDGE), "provisioning", "token", "add", "scim2-tester", "--json"],
        env=environ,
        check=True,
        capture_output=True,
        text=True,
    )
    token = json.loads(made.stdout)["token"]
    with serving(environ, port, tmp_path / "server.log"):
        http = httpx2.Client(base_url=f"{base}/scim/v2", headers={"Authorization": f"Bearer {token}"})
        with http:
            results = check_server(SyncSCIMClient(http))
    failed = [
        f"{r.title} [{r.resource_type}]: {r.reason}"
        for r in results
        if r.status in (Status.ERROR, Status.CRITICAL, Status.DEVIATION)
    ]
    passed = [r for r in results if r.status in (Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE)]
    assert not failed, "\n".join(failed)
    # It ran the resource checks, not only discovery: creations, reads, replacements, patches, deletions.
    assert len(passed) > 40, [r.title for r in results]
