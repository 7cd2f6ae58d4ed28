"""Passbridge's token endpoint against its peers, as ratios measured in one run (run by bench/peers).

This VM's speed drifts by up to 40 % within minutes, so absolute rates mean little: each server is pinned
to core 0 (`taskset -c 0`), the load comes from core 1, the servers take turns round by round, and what
is compared is CPU per operation: utime + stime of all the server's processes (from /proc) divided by
the operations that succeeded. The three servers run side by side (an idle one costs nothing):
- Passbridge (`passbridge serve`, one process, SQLite; access log on, as it ships);
- panva's oidc-provider 9 (Node; bench/peers.d/oidc_provider.js: its default in-memory adapter);
- django-oauth-toolkit 3 (Django + SQLite in WAL mode, gunicorn, one gthread worker; bench/peers.d/).
Operations: client-credentials grants and rotating refresh-token grants (`client_secret_post` on all
three; one chain of tokens per wrk connection, bench/refresh.lua), and Passbridge's full pass
sign-in (bench/signin.py's three requests) against one Argon2 verify's CPU measured on the same core in
the same round. Every server is checked for correct answers first (a token back, rotation, a replayed
refresh token refused); failed requests are counted and reported, never divided in.

Usage: bench/peers [--rounds 3] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode

import httpx
import refresh
import signin
from harness import cpu_model, free_port, pinned, run_wrk_counted, tree_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers.d"
PEER_PYTHON = ROOT / "bench" / ".venv-peers" / "bin" / "python"
BIN = Path(sys.executable).parent
SERVER_CORE, LOAD_CORE = "0", "1"
CHAINS = 16  # wrk threads = connections = refresh chains
SIGNIN_CLIENTS = 12
VERIFIES = 12  # Argon2 verifies timed per round
GTHREADS = 8
WARMUP = 4  # seconds per server and operation before the rounds: V8 and the caches settle
GOALS = {"cc": 0.8, "refresh": 0.65}  # Passbridge's CPU efficiency / oidc-provider's, at least
SIGNIN_GOAL = 1.8  # a full pass sign-in's server CPU / one Argon2 verify's CPU, at most
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Server:
    name: str
    pid: int
    token_url: str
    cc_form: str
    refresh_form: str  # without the refresh_token, which refresh.lua appends
    heads: Callable[[int], list[str]]  # chain heads of batch n: the check's, the warm-up's, one per round
    jwt: bool  # access tokens are ES256 JWTs
    cpu: dict[str, list[float]] = field(default_factory=lambda: {"cc": [], "refresh": []})
    rates: dict[str, list[float]] = field(default_factory=lambda: {"cc": [], "refresh": []})
    failed: int = 0


def start(stack: ExitStack, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> int:
    """Start a server pinned to the server core in a session of its own, stopped with all its processes
    (gunicorn's worker too) when `stack` closes, on an error or Ctrl-C as well."""
    out = log.open("wb")
    proc = subprocess.Popen(
        pinned(argv, SERVER_CORE),
        env=env,
        cwd=cwd,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def stop() -> None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        out.close()

    stack.callback(stop)
    return proc.pid


def wait_until(ready: Callable[[], bool], what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start; its output:\n{log.read_text()[-2000:]}")


def passbridge(stack: ExitStack, tmp: Path, batches: int) -> tuple[Server, int, list[tuple[str, str]]]:
    from bench import cli

    port, data = free_port(), tmp / "passbridge"
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    env.update(PASSBRIDGE_DATA_DIR=str(data), PASSBRIDGE_BASE_URL=base)
    # No sign-in fails; the thresholds are raised as bench/signin.py does, against leftovers of a bad run.
    env.update(PASSBRIDGE_LOCKOUT_THRESHOLD="100", PASSBRIDGE_LOCKOUT_IP_THRESHOLD="100000")
    data.mkdir()
    users = signin.prepare(env, SIGNIN_CLIENTS, 1).users  # `passbridge init`, users with reusable passes
    app = cli(env, "app", "add", "Bench", "--redirect-uri", "http://localhost/cb")
    heads = [refresh.seed_chains(str(data), base, app["clientId"], CHAINS) for _ in range(batches)]
    log = tmp / "passbridge.log"
    pid = start(stack, [str(BIN / "passbridge"), "serve", "--port", str(port)], env, ROOT, log)
    wait_until(lambda: httpx.get(f"{base}/readyz", timeout=1).status_code == 200, "passbridge serve", log)
    secret = {"client_id": app["clientId"], "client_secret": app["clientSecret"]}
    cc = urlencode({"grant_type": "client_credentials", **secret, "scope": f"{base}/.default"})
    rt = urlencode({"grant_type": "refresh_token", **secret})
    return (
        Server("Passbridge", pid, f"{base}/oauth2/v2.0/token", cc, rt, heads.__getitem__, True),
        port,
        users,
    )


def oidc_provider(stack: ExitStack, tmp: Path) -> Server:
    port, heads_file, log = free_port(), tmp / "oidc-provider.json", tmp / "oidc-provider.log"
    env = {**os.environ, "BENCH_CHAINS": str(CHAINS), "BENCH_HEADS": str(heads_file)}
    pid = start(stack, ["node", "oidc_provider.js", str(port)], env, PEERS, log)
    base = f"http://127.0.0.1:{port}"
    discovery = f"{base}/.well-known/openid-configuration"
    wait_until(lambda: httpx.get(discovery, timeout=1).status_code == 200, "oidc-provider", log)
    seeded = json.loads(heads_file.read_text())

    def heads(batch: int) -> list[str]:
        """Batch 0 was seeded at start; each later one just before its use (SIGUSR2, oidc_provider.js)."""
        if batch:
            heads_file.unlink()
            os.kill(pid, signal.SIGUSR2)
            wait_until(heads_file.exists, "oidc-provider's seeding", log, timeout=10)
        heads: list[str] = json.loads(heads_file.read_text())["heads"]
        return heads

    secret = {"client_id": seeded["clients"]["cc"]["id"], "client_secret": seeded["clients"]["cc"]["secret"]}
    cc = urlencode(
        {"grant_type": "client_credentials", **secret, "resource": seeded["resource"], "scope": "api:read"}
    )
    rt = urlencode({"grant_type": "refresh_token", **secret})
    return Server("oidc-provider", pid, f"{base}/token", cc, rt, heads, True)


def django_oauth_toolkit(stack: ExitStack, tmp: Path, batches: int) -> Server:
    port, data, log = free_port(), tmp / "dot", tmp / "dot.log"
    data.mkdir()
    env = {**os.environ, "BENCH_DOT_DIR": str(data), "DJANGO_SETTINGS_MODULE": "dot_settings"}
    seeded = json.loads(
        subprocess.run(
            [str(PEER_PYTHON), "dot_setup.py", str(batches), str(CHAINS)],
            env=env,
            cwd=PEERS,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout
    )
    argv = [str(PEER_PYTHON), "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    argv += ["--worker-class", "gthread", "--threads", str(GTHREADS), "--no-control-socket"]
    pid = start(stack, [*argv, "django.core.wsgi:get_wsgi_application()"], env, PEERS, log)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/o/.well-known/jwks.json", timeout=1).status_code == 200, "DOT", log)
    cc_client, rt_client = seeded["clients"]["cc"], seeded["clients"]["rt"]
    cc = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": cc_client["id"],
            "client_secret": cc_client["secret"],
            "scope": "read",
        }
    )
    rt = urlencode(
        {"grant_type": "refresh_token", "client_id": rt_client["id"], "client_secret": rt_client["secret"]}
    )
    return Server("DOT", pid, f"{base}/o/token/", cc, rt, seeded["heads"].__getitem__, False)


def check(server: Server) -> None:
    """A token back for each grant; each refresh rotates; a rotated-out refresh token is refused."""

    def post(body: str) -> httpx.Response:
        return httpx.post(server.token_url, content=body, headers=FORM, timeout=10)

    def fail(why: str, answer: httpx.Response) -> SystemExit:
        return SystemExit(f"{server.name} answers wrongly: {why} ({answer.status_code} {answer.text[:300]})")

    answer = post(server.cc_form)
    token = answer.json().get("access_token", "") if answer.status_code == 200 else ""
    if not token:
        raise fail("no access token for client credentials", answer)
    if server.jwt:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        if header.get("alg") != "ES256":
            raise fail(f"access token signed {header.get('alg')}, not ES256", answer)
    first = presented = server.heads(0)[0]
    for _ in range(2):
        answer = post(f"{server.refresh_form}&refresh_token={presented}")
        got = answer.json() if answer.status_code == 200 else {}
        if not (got.get("access_token") and got.get("id_token") and got.get("refresh_token")):
            raise fail("refresh answer without access, ID and refresh token", answer)
        if got["refresh_token"] == presented:
            raise fail("refresh token not rotated", answer)
        presented = got["refresh_token"]
    answer = post(f"{server.refresh_form}&refresh_token={first}")
    if answer.status_code != 400:
        raise fail("a rotated-out refresh token was accepted", answer)


def load(server: Server, op: str, seconds: int, batch: int, tmp: Path) -> tuple[float, float, int]:
    """Server CPU per successful grant, grants per second, and failed requests of one wrk run."""
    argv = [f"-t{CHAINS}", f"-c{CHAINS}", f"-d{seconds}s", "--timeout", "5s"]
    if op == "cc":
        argv += ["-s", str(ROOT / "bench" / "post_form.lua")]
        env = {"BENCH_FORM": server.cc_form}
    else:
        tokens = tmp / f"{server.name}-{batch}.txt"
        tokens.write_text("\n".join(server.heads(batch)) + "\n")
        argv += ["-s", str(ROOT / "bench" / "refresh.lua")]
        env = {"BENCH_FORM": server.refresh_form, "BENCH_TOKENS": str(tokens)}
    before = tree_cpu_seconds(server.pid)
    done, failed = run_wrk_counted([*argv, server.token_url], core=LOAD_CORE, env=env, seconds=seconds)
    cpu = tree_cpu_seconds(server.pid) - before
    return (cpu / done if done else float("inf")), done / seconds, failed


def verify_cpu(verify: Callable[[], bool]) -> float:
    """CPU of one Argon2 verify as the server does it, on the server's core (Argon2 uses one lane)."""
    os.sched_setaffinity(0, {int(SERVER_CORE)})
    try:
        started = time.process_time()
        for _ in range(VERIFIES):
            assert verify()
        return (time.process_time() - started) / VERIFIES
    finally:
        os.sched_setaffinity(0, {int(LOAD_CORE)})


def versions() -> str:
    node_lib = json.loads((PEERS / "node_modules" / "oidc-provider" / "package.json").read_text())["version"]
    names = ("django", "django-oauth-toolkit", "gunicorn")
    script = f"import importlib.metadata as m; print(*(m.version(n) for n in {names}))"
    django, dot, gunicorn = subprocess.run(
        [str(PEER_PYTHON), "-c", script], check=True, capture_output=True, text=True
    ).stdout.split()
    peer = f"Django {django}, django-oauth-toolkit {dot}, gunicorn {gunicorn}"
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    ours = ", ".join(f"{name} {metadata.version(name)}" for name in ("fastapi", "uvicorn", "authlib"))
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"Python {platform.python_version()}, Node {node}; Passbridge {commit.stdout.strip()} ({ours}); "
        f"oidc-provider {node_lib}; {peer} (1 gthread worker, {GTHREADS} threads)"
    )


def ratio_line(name: str, ratios: list[float], goal: float | None, at_most: bool = False) -> tuple[str, bool]:
    value = statistics.median(ratios)
    met = goal is None or (value <= goal if at_most else value >= goal)
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    verdict = (
        "" if goal is None else f" (goal {'<=' if at_most else '>='} {goal}): {'met' if met else 'MISSED'}"
    )
    return f"  {name}: {value:.2f} (rounds {rounds}){verdict}", met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4, help="per measurement")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds, so every server is stopped
    os.sched_setaffinity(0, {int(LOAD_CORE)})  # this process drives the sign-ins: it is load
    load_average = os.getloadavg()[0]
    batches = args.rounds + 2  # the check's, the warm-up's, one per round
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="passbridge-bench-peers-")))
        ours, port, users = passbridge(stack, tmp, batches)
        servers = [ours, oidc_provider(stack, tmp), django_oauth_toolkit(stack, tmp, batches)]
        for server in servers:
            check(server)
        from passbridge.config import load_settings
        from passbridge.services.context import Env

        env = Env.from_settings(
            load_settings(data_dir=tmp / "passbridge", base_url=f"http://127.0.0.1:{port}")
        )
        stack.callback(env.db.dispose)
        stored = env.keeper.slow_hash(users[0][1])
        for server in servers:  # warm-up: JIT, caches, pools, threads
            load(server, "cc", WARMUP, 1, tmp)
            load(server, "refresh", WARMUP, 1, tmp)
        asyncio.run(signin.load(port, users, WARMUP))
        signin_ratios, signin_failed = [], 0
        for n in range(args.rounds):
            for op in ("cc", "refresh"):
                for server in servers:
                    cpu, rate, failed = load(server, op, args.seconds, n + 2, tmp)
                    server.cpu[op].append(cpu)
                    server.rates[op].append(rate)
                    server.failed += failed
            before = tree_cpu_seconds(ours.pid)
            _, tally = asyncio.run(signin.load(port, users, args.seconds))
            per_signin = (tree_cpu_seconds(ours.pid) - before) / max(tally.done, 1)
            verify = verify_cpu(lambda: env.keeper.slow_hash_matches(users[0][1], stored))
            signin_failed += tally.failed
            signin_ratios.append(per_signin / verify)
            print(
                f"round {n + 1}: sign-in {per_signin * 1e3:.1f} ms server CPU ({tally.done} sign-ins), "
                f"one verify {verify * 1e3:.1f} ms: {per_signin / verify:.2f} verifies",
                flush=True,
            )

    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; load average {load_average:.2f} at the start")
    print(versions())
    print(
        f"Servers pinned to core {SERVER_CORE}, wrk -t{CHAINS} -c{CHAINS} on core {LOAD_CORE}; {args.rounds} "
        f"rounds of {args.seconds} s per measurement, servers taking turns; CPU per grant = the server's "
        "CPU (all its processes) / successful grants"
    )
    met = True
    for op, title in (("cc", "client credentials"), ("refresh", "refresh (rotating, ID token included)")):
        print(f"{title}: server CPU per grant, us (grants/s)")
        for n in range(args.rounds):
            cells = "  ".join(
                f"{s.name} {s.cpu[op][n] * 1e6:,.0f} ({s.rates[op][n]:,.0f}/s)" for s in servers
            )
            print(f"  round {n + 1}: {cells}")
        print(
            "  median:  " + "  ".join(f"{s.name} {statistics.median(s.cpu[op]) * 1e6:,.0f}" for s in servers)
        )
        for peer in servers[1:]:
            ratios = [p / o for p, o in zip(peer.cpu[op], ours.cpu[op], strict=True)]
            goal = GOALS[op] if peer.name == "oidc-provider" else None
            line, ok = ratio_line(f"Passbridge's CPU efficiency / {peer.name}'s", ratios, goal)
            print(line)
            met &= ok
    print("full pass sign-in (GET /login, POST /login, POST /login/pass): server CPU / one Argon2 verify's")
    line, ok = ratio_line("verifies per sign-in", signin_ratios, SIGNIN_GOAL, at_most=True)
    print(line)
    met &= ok
    failures = {s.name: s.failed for s in servers} | {"Passbridge sign-ins": signin_failed}
    print("failed requests: " + ", ".join(f"{name} {count}" for name, count in failures.items()))
    if any(failures.values()):
        raise SystemExit(1)
    if not met:
        raise SystemExit(3)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench/peers: interrupted; every server it started is stopped")
