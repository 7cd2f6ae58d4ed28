"""A served worker's memory under a burst of pass issues stays bounded (each Argon2 hash holds 19 MiB)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.servers import served_store

BURST = 32
CEILING_MIB = 250


def _peak_rss_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) // 1024


@pytest.mark.multi
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the worker's memory from /proc")
def test_worker_stays_under_250_mib_while_32_passes_are_issued_at_once(tmp_path: Path) -> None:
    with served_store(tmp_path, "User.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All") as served:
        headers = {"Authorization": f"Bearer {served.app_token()}"}

        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=served.base, headers=headers, timeout=120) as client:
                upns = [f"person{i}@contoso.example" for i in range(BURST)]
                for upn in upns:
                    made = await client.post(
                        "/v1.0/users",
                        json={"userPrincipalName": upn, "displayName": upn, "accountEnabled": True},
                    )
                    assert made.status_code == 201, made.text
                answers = await asyncio.gather(
                    *(
                        client.post(f"/v1.0/users/{upn}/authentication/temporaryAccessPassMethods", json={})
                        for upn in upns
                    )
                )
                return [a.status_code for a in answers]

        assert asyncio.run(burst()) == [201] * BURST
        peak = _peak_rss_mib(served.proc.pid)
    assert peak < CEILING_MIB, f"the worker's resident memory peaked at {peak} MiB"
