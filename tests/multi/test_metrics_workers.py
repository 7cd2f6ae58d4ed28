"""`passbridge serve --workers 2` with PASSBRIDGE_METRICS=open: a scrape answered by either worker counts
what both did (prometheus-client's multiprocess mode, in a directory serve makes and removes)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.pg import fresh_schema
from tests.servers import PASSBRIDGE, free_port, initialised_store, wait_ready
from tests.web.test_metrics import Samples, parse, value

TOKEN_ROUTE = {"method": "POST", "route": "/oauth2/v2.0/token", "status": "2xx"}
GRANTS = "passbridge_http_request_duration_seconds_count"


@dataclass
class Served:
    base: str
    environ: dict[str, str]
    proc: subprocess.Popen[str]

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(PASSBRIDGE), *args], env=self.environ, check=True, capture_output=True, text=True
        )
        return done.stdout

    def metrics_dir(self) -> Path:
        """The directory `serve` handed its workers (read from a worker's environment)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        for child in children:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            for entry in environ:
                if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                    return Path(entry.split(b"=", 1)[1].decode())
        raise AssertionError("no worker names a metrics directory")


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    base = f"http://localhost:{port}"
    with fresh_schema() as schema_url, (tmp_path / "server.log").open("w") as sink:
        env = initialised_store(
            tmp_path, PASSBRIDGE_DATABASE_URL=schema_url, PASSBRIDGE_BASE_URL=base, PASSBRIDGE_METRICS="open"
        )
        proc = subprocess.Popen(
            [str(PASSBRIDGE), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            text=True,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(f"{base}/readyz", proc)
            yield Served(base, env, proc)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)


def per_worker(directory: Path) -> dict[str, Samples]:
    """Each worker's own figures, from its own files (prometheus-client names them by pid)."""
    pids = {f.stem.rsplit("_", 1)[1] for f in directory.glob("*.db")}
    found = {}
    for pid in pids:
        files = [str(f) for f in directory.glob(f"*_{pid}.db")]
        found[pid] = {
            (s.name, frozenset(s.labels.items())): s.value
            for metric in MultiProcessCollector.merge(files, accumulate=True)
            for s in metric.samples
        }
    return found


@pytest.mark.multi
def test_metrics_scraped_from_either_of_two_workers_add_up(two_workers: Served) -> None:
    served = two_workers
    app = json.loads(
        served.cli("app", "add", "HR", "--permission", "UserAuthenticationMethod.ReadWrite.All", "--json")
    )
    form = {
        "grant_type": "client_credentials",
        "client_id": app["clientId"],
        "client_secret": app["clientSecret"],
        "scope": f"{served.base}/.default",
    }
    for n in range(4):
        served.cli("user", "add", f"user{n}@contoso.example")

    def grant(_: int) -> str:
        # A new connection each time, so the kernel hands them to either worker.
        answer = httpx.post(f"{served.base}/oauth2/v2.0/token", data=form, timeout=30)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    # Until both workers have answered grants (each connection goes to whichever accepts it first).
    directory = served.metrics_dir()
    grants = 0
    with ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(grant, range(8)))
        grants += 8
        while (
            grants < 400
            and sum(1 for w in per_worker(directory).values() if value(w, GRANTS, **TOKEN_ROUTE)) < 2
        ):
            tokens += pool.map(grant, range(8))
            grants += 8

        def issue(n: int) -> None:
            answer = httpx.post(
                f"{served.base}/v1.0/users/user{n}@contoso.example/authentication/temporaryAccessPassMethods",
                json={},
                headers={"Authorization": f"Bearer {tokens[n]}"},
                timeout=30,
            )
            assert answer.status_code == 201, answer.text

        list(pool.map(issue, range(4)))

    # Two workers, or more: uvicorn replaces a worker that stops answering its health check (on this
    # shared machine, now and then), and the one it replaced keeps its files, so its counts still count.
    workers = per_worker(directory)
    assert sum(1 for w in workers.values() if value(w, GRANTS, **TOKEN_ROUTE)) >= 2
    # Scrapes on new connections, answered by one worker or the other: every one counts both.
    for _ in range(6):
        scraped = parse(httpx.get(f"{served.base}/metrics", timeout=30).text)
        assert value(scraped, GRANTS, **TOKEN_ROUTE) == grants
        assert value(scraped, "passbridge_passes_issued_total") == 4
        assert value(scraped, "passbridge_argon2_seconds_count", operation="hash") == 4
        # Read from the shared store, so counted once however many workers there are.
        assert value(scraped, "passbridge_passes", state="active") == 5  # with the administrator's
    assert sum(value(w, GRANTS, **TOKEN_ROUTE) for w in workers.values()) == grants

    served.proc.terminate()
    served.proc.wait(timeout=30)
    assert not directory.exists()  # serve removes what it made
