"""Measure Passbridge on one core, loaded from another, against a bare FastAPI endpoint.

Starts `passbridge serve` on SQLite in a temporary data dir pinned to core 0 (`taskset -c 0`), and the
bare app in bench/bare_app.py on the same stack and core; loads each in turn from core 1 with wrk
(or, without wrk, a small asyncio httpx client, which is slower than wrk and says so). Loopback only;
every measurement is bounded; everything it started is stopped on exit.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
from harness import cpu_model, free_port, pinned, run_wrk

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER_CORE, LOAD_CORE = "0", "1"
CONNECTIONS = 32
GOAL_GRANTS = 1200.0
GOAL_RATIO = 0.3
ROUNDS = 3


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early ({proc.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} never became ready")


@contextmanager
def server(argv: list[str], env: dict[str, str], ready_url: str) -> Iterator[None]:
    proc = subprocess.Popen(
        pinned(argv, SERVER_CORE), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(ready_url, proc)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cli(env: dict[str, str], *args: str) -> dict[str, str]:
    out = subprocess.run([str(BIN / "passbridge"), *args, "--json"], env=env, check=True, capture_output=True)
    data: dict[str, str] = json.loads(out.stdout)
    return data


def wrk(url: str, seconds: int, lua: str | None, extra_env: dict[str, str]) -> tuple[float, int]:
    argv = ["-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s"]
    if lua:
        argv += ["-s", str(ROOT / "bench" / lua)]
    return run_wrk([*argv, url], core=LOAD_CORE, env=extra_env, seconds=seconds)


async def _httpx_load(
    url: str, seconds: int, method: str, body: str | None, headers: dict[str, str]
) -> tuple[float, int]:
    done = failed = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=5) as client:

        async def worker() -> None:
            nonlocal done, failed
            while time.monotonic() < stop:
                response = await client.request(method, url, content=body, headers=headers)
                done += 1
                failed += response.status_code >= 400

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return done / (time.monotonic() - started), failed


def measure(
    url: str, seconds: int, *, form: str | None = None, token: str | None = None
) -> tuple[float, int]:
    if shutil.which("wrk"):
        lua = "post_form.lua" if form else ("get_bearer.lua" if token else None)
        env = {"BENCH_FORM": form or "", "BENCH_TOKEN": token or ""}
        wrk(url, 2, lua, env)  # warm-up: caches, connection pools, the threadpool
        return wrk(url, seconds, lua, env)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    method = "POST" if form else "GET"
    asyncio.run(_httpx_load(url, 2, method, form, headers))
    return asyncio.run(_httpx_load(url, seconds, method, form, headers))


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    port, bare_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    results: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="passbridge-bench-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
        env.update(PASSBRIDGE_DATA_DIR=data_dir, PASSBRIDGE_BASE_URL=base)
        init = cli(env, "init", "--admin", "admin@bench.example", "--tenant-name", "Bench")
        app = cli(
            env,
            "app",
            "add",
            "Bench",
            "--permission",
            "UserAuthenticationMethod.Read.All",
            "--permission",
            "User.Read.All",
        )
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": app["clientId"],
                "client_secret": app["clientSecret"],
                "scope": f"{base}/.default",
            }
        )
        bare_argv = [
            str(BIN / "python"),
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(bare_port),
            "--log-level",
            "info",
        ]
        bare_url = f"http://127.0.0.1:{bare_port}/ping"
        # Both servers run side by side on core 0 (the idle one costs nothing) and the three loads take
        # turns for ROUNDS rounds: this VM has slow and fast phases lasting seconds, and measuring the
        # read and the bare endpoint one after the other in each round keeps their ratio honest.
        with (
            server([str(BIN / "passbridge"), "serve", "--port", str(port)], env, f"{base}/readyz"),
            server(bare_argv, {**env, "PYTHONPATH": str(ROOT)}, bare_url),
        ):
            granted = httpx.post(
                f"{base}/oauth2/v2.0/token",
                content=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            granted.raise_for_status()
            token = granted.json()["access_token"]
            read_url = f"{base}/v1.0/users/{init['adminUserId']}/authentication/methods"
            read_name = "GET /v1.0/users/{id}/authentication/methods"
            auth = {"Authorization": f"Bearer {token}"}
            if httpx.get(read_url, headers=auth).status_code != 200:
                raise SystemExit("GET .../authentication/methods does not answer 200; nothing to measure")
            names = (
                "POST /oauth2/v2.0/token (client credentials)",
                read_name,
                "GET /ping (bare FastAPI, same stack)",
            )
            rounds: list[tuple[tuple[float, int], ...]] = []
            for _ in range(ROUNDS):
                rounds.append(
                    (
                        measure(f"{base}/oauth2/v2.0/token", seconds, form=form),
                        measure(read_url, seconds, token=token),
                        measure(bare_url, seconds),
                    )
                )
        for i, name in enumerate(names):
            rates = [r[i][0] for r in rounds]
            results.append((name, statistics.median(rates), sum(r[i][1] for r in rounds)))
        ratios = [r[1][0] / r[2][0] for r in rounds if r[2][0]]

    tool = f"wrk -t1 -c{CONNECTIONS}" if shutil.which("wrk") else "asyncio httpx client (slower than wrk)"
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}")
    print(
        f"Server on core {SERVER_CORE} (uvicorn, 1 worker, SQLite); load on core {LOAD_CORE} ({tool}), "
        f"{seconds} s per measurement after a 2 s warm-up, {ROUNDS} rounds taking turns; medians"
    )
    for name, rate, failed in results:
        note = f"  ({failed} failed)" if failed else ""
        print(f"  {name:<48} {rate:>9,.0f} req/s{note}")
    grants = results[0][1]
    ratio = statistics.median(ratios) if ratios else 0.0
    print(
        "  per round: "
        + "; ".join(f"grants {r[0][0]:,.0f}, read {r[1][0]:,.0f} / bare {r[2][0]:,.0f}" for r in rounds)
    )
    print(
        f"Grants per second per core: {grants:,.0f} (goal >= {GOAL_GRANTS:,.0f}): "
        f"{'met' if grants >= GOAL_GRANTS else 'MISSED'}"
    )
    print(
        f"Graph read / bare endpoint: {ratio:.2f} (goal >= {GOAL_RATIO}): "
        f"{'met' if ratio >= GOAL_RATIO else 'MISSED'}"
    )
    if any(r[2] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
