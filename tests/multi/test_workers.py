"""Several server processes over one PostgreSQL store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.pg import fresh_schema
from tests.servers import PASSBRIDGE, free_port, initialised_store, wait_ready


@pytest.mark.multi
def test_two_workers_share_one_postgresql_store(tmp_path: Path) -> None:
    port = free_port()
    with fresh_schema() as schema_url:
        env = initialised_store(tmp_path, PASSBRIDGE_DATABASE_URL=schema_url)
        proc = subprocess.Popen(
            [str(PASSBRIDGE), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(f"http://localhost:{port}/readyz", proc)
            answers = [httpx.get(f"http://localhost:{port}/readyz", timeout=5) for _ in range(20)]
            assert {a.status_code for a in answers} == {200}
        finally:
            proc.terminate()
            output, _ = proc.communicate(timeout=20)
    assert output.count("Started server process") == 2
