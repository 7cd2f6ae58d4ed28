"""Several server processes over one PostgreSQL store."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.pg import fresh_schema
from tests.servers import PASSBRIDGE, free_port, initialised_store, wait_ready


def started_workers(log: Path) -> int:
    return log.read_text().count("Started server process")


@pytest.mark.multi
def test_two_workers_share_one_postgresql_store(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    with fresh_schema() as schema_url, log.open("w") as sink:
        env = initialised_store(tmp_path, PASSBRIDGE_DATABASE_URL=schema_url)
        proc = subprocess.Popen(
            [str(PASSBRIDGE), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            text=True,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(f"http://localhost:{port}/readyz", proc)
            # The first worker up answers /readyz; on a busy machine the second may still be importing.
            deadline = time.monotonic() + 30
            while started_workers(log) < 2 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
            answers = [httpx.get(f"http://localhost:{port}/readyz", timeout=5) for _ in range(20)]
            assert {a.status_code for a in answers} == {200}
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert started_workers(log) == 2
