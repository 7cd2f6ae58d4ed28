"""What metrics and JSON logs cost a client-credentials grant: server CPU per grant, interleaved.

Starts `passbridge serve` (SQLite, one process, access log on, as bench/run does) side by side on core 0
in up to four set-ups: as shipped (metrics off, text logs), PASSBRIDGE_METRICS=open, metrics and
PASSBRIDGE_LOG_FORMAT=json, and optionally the code before this feature (`--before SRC`: the `src`
directory of an older tree, e.g. from `git archive`). Each round loads each server in turn from core 1
with wrk, and divides the CPU the server used (utime + stime from /proc) by the grants it answered.
Reported: the median of the rounds for each set-up, and each one's ratio to "as shipped" per round.

`--in-process` measures the same without HTTP, in the steadier way bench/fastpath.py does: two apps on
one store, metrics off and open, called directly in alternating batches of grants (time.process_time,
the cheapest batch of each), plus the access line's formatting, text against JSON, per line.

Usage: bench/run-metrics [--rounds 5] [--seconds 4] [--before /tmp/old/src] | --in-process [--rounds 21]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from bench import BIN, CONNECTIONS, LOAD_CORE, ROOT, SERVER_CORE, cli, wait_ready
from fastpath import call
from harness import cpu_model, free_port, pinned, run_wrk_counted, tree_cpu_seconds


def start(stack: ExitStack, env: dict[str, str], port: int) -> int:
    proc = subprocess.Popen(
        pinned([str(BIN / "passbridge"), "serve", "--port", str(port)], SERVER_CORE),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    stack.callback(stop)
    wait_ready(f"http://127.0.0.1:{port}/readyz", proc)  # type: ignore[arg-type]
    return proc.pid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--before", type=Path, help="src directory of the code to compare with")
    parser.add_argument("--in-process", action="store_true", help="apps called directly, no HTTP")
    args = parser.parse_args()
    if args.in_process:
        in_process(args.rounds)
        return
    setups: dict[str, dict[str, str]] = {
        "as shipped (metrics off)": {},
        "PASSBRIDGE_METRICS=open": {"PASSBRIDGE_METRICS": "open"},
        "metrics + LOG_FORMAT=json": {"PASSBRIDGE_METRICS": "open", "PASSBRIDGE_LOG_FORMAT": "json"},
    }
    if args.before:
        setups["before (--before)"] = {"PYTHONPATH": str(args.before.resolve())}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    cpu: dict[str, list[float]] = {name: [] for name in setups}
    failed = 0
    with tempfile.TemporaryDirectory(prefix="passbridge-bench-metrics-") as tmp, ExitStack() as stack:
        servers: dict[str, tuple[int, str, str]] = {}
        for n, (name, extra) in enumerate(setups.items()):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = {**base_env, "PASSBRIDGE_DATA_DIR": f"{tmp}/{n}", "PASSBRIDGE_BASE_URL": base, **extra}
            cli(env, "init", "--admin", "admin@bench.example")
            app = cli(env, "app", "add", "Bench", "--permission", "User.Read.All")
            form = urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": app["clientId"],
                    "client_secret": app["clientSecret"],
                    "scope": f"{base}/.default",
                }
            )
            pid = start(stack, env, port)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            httpx.post(f"{base}/oauth2/v2.0/token", content=form, headers=headers).raise_for_status()
            servers[name] = (pid, f"{base}/oauth2/v2.0/token", form)
        wrk_args = ["-t1", f"-c{CONNECTIONS}", "--timeout", "5s", "-s", str(ROOT / "bench" / "post_form.lua")]
        for _pid, url, form in servers.values():  # warm-up
            run_wrk_counted([*wrk_args, "-d2s", url], core=LOAD_CORE, env={"BENCH_FORM": form}, seconds=2)
        for _ in range(args.rounds):
            for name, (pid, url, form) in servers.items():
                before = tree_cpu_seconds(pid)
                done, bad = run_wrk_counted(
                    [*wrk_args, f"-d{args.seconds}s", url],
                    core=LOAD_CORE,
                    env={"BENCH_FORM": form},
                    seconds=args.seconds,
                )
                failed += bad
                cpu[name].append((tree_cpu_seconds(pid) - before) / max(done, 1) * 1e6)
    shipped = cpu["as shipped (metrics off)"]
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    print(f"client-credentials grants, server CPU per grant (us), {args.rounds} rounds of {args.seconds} s:")
    for name, values in cpu.items():
        ratios = [v / s for v, s in zip(values, shipped, strict=True)]
        rounds = "/".join(f"{v:,.0f}" for v in values)
        print(
            f"  {name:<28} median {statistics.median(values):>6,.0f}"
            f"  x{statistics.median(ratios):.3f}  ({rounds})"
        )
    if failed:
        raise SystemExit(f"{failed} requests failed")


def in_process(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="passbridge-bench-metrics-") as data_dir:
        base = "http://127.0.0.1:8000"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
        env.update(PASSBRIDGE_DATA_DIR=data_dir, PASSBRIDGE_BASE_URL=base)
        cli(env, "init", "--admin", "admin@bench.example")
        app = cli(env, "app", "add", "Bench", "--permission", "User.Read.All")
        grant = urlencode(
            {"grant_type": "client_credentials", "client_id": app["clientId"],
             "client_secret": app["clientSecret"], "scope": f"{base}/.default"}
        ).encode()  # fmt: skip
        costs = asyncio.run(_grants(Path(data_dir), base, grant, rounds))
    off, on = costs["off"], costs["open"]
    ratios = sorted(o / f for o, f in zip(on, off, strict=True))
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    print(f"client-credentials grant in process, CPU per grant (us), cheapest of {rounds} batches of 300:")
    print(
        f"  metrics off {min(off) * 1e6:,.1f}, open {min(on) * 1e6:,.1f}:"
        f" +{(min(on) - min(off)) * 1e6:,.1f} us"
    )
    print(
        f"  per-round ratio open/off: min {ratios[0]:.3f} median {statistics.median(ratios):.3f}"
        f" max {ratios[-1]:.3f}"
    )
    bare, timed, with_context = asyncio.run(_observer_alone())
    print(
        f"observe.py's middleware alone, per request: {timed - bare:,.2f} us (latency),"
        f" {with_context - bare:,.2f} us (latency and the JSON logs' context)"
    )
    text, json_line = _formatting()
    print(f"access line formatting per request: text {text:,.1f} us, JSON {json_line:,.1f} us")


async def _observer_alone() -> tuple[float, float, float]:
    """CPU per request (us) of a do-nothing ASGI app, bare and inside RequestObserver: the
    middleware's own cost without the noise of a whole grant around it (cheapest of 5 runs)."""
    from passbridge.metrics import RequestLatency
    from passbridge.observe import RequestObserver

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def sent(message: Any) -> None:
        return None

    async def nothing() -> Any:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "POST", "path": "/oauth2/v2.0/token",
             "state": {"request_id": "x"}, "client": ("127.0.0.1", 40000)}  # fmt: skip
    apps = [
        answer,
        RequestObserver(answer, latency=RequestLatency(), context=False),
        RequestObserver(answer, latency=RequestLatency(), context=True),
    ]
    best = [float("inf")] * len(apps)
    for _ in range(5):
        for i, app in enumerate(apps):
            started = time.process_time()
            for _ in range(50000):
                await app(scope, nothing, sent)
            best[i] = min(best[i], (time.process_time() - started) / 50000 * 1e6)
    return best[0], best[1], best[2]


async def _grants(data_dir: Path, base: str, grant: bytes, rounds: int) -> dict[str, list[float]]:
    from passbridge.app import create_app
    from passbridge.config import load_settings
    from passbridge.services.context import Env

    environments = {
        mode: Env.from_settings(load_settings(data_dir=data_dir, base_url=base, metrics=mode))
        for mode in ("off", "open")
    }
    apps = {mode: create_app(environment) for mode, environment in environments.items()}
    gc.freeze()
    form = {"content-type": "application/x-www-form-urlencoded"}

    async def batch(app: Any, n: int) -> None:
        for _ in range(n):
            answer = await call(app, "POST", "/oauth2/v2.0/token", form, grant)
            assert answer.status == 200, answer.body

    for app in apps.values():
        await batch(app, 100)
    costs: dict[str, list[float]] = {mode: [] for mode in apps}
    for round_number in range(rounds):
        order = list(apps) if round_number % 2 == 0 else list(reversed(apps))
        for mode in order:
            gc.collect()
            started = time.process_time()
            await batch(apps[mode], 300)
            costs[mode].append((time.process_time() - started) / 300)
    for environment in environments.values():
        environment.db.dispose()
    return costs


def _formatting() -> tuple[float, float]:
    """Microseconds to format one access line: `passbridge serve`'s text formatter and the JSON one,
    the latter inside a request's context as the server has it."""
    from passbridge.access_log import AccessFormatter
    from passbridge.json_log import JsonFormatter
    from passbridge.observe import CURRENT, RequestInfo

    text = AccessFormatter(
        '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    )
    as_json = JsonFormatter()
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:40000", "POST", "/oauth2/v2.0/token", "1.1", 200), None,
    )  # fmt: skip
    CURRENT.set(
        RequestInfo(
            "8a9a8d00-725a-4f03-b2e0-abaa499adb01",
            "POST",
            "127.0.0.1",
            0.0,
            "/oauth2/v2.0/token",
            200,
            0.0012,
        )
    )
    best = {}
    for name, formatter in (("text", text), ("json", as_json)):
        runs = []
        for _ in range(7):
            started = time.process_time()
            for _ in range(20000):
                formatter.format(record)
            runs.append((time.process_time() - started) / 20000 * 1e6)
        best[name] = min(runs)
    return best["text"], best["json"]


if __name__ == "__main__":
    main()
