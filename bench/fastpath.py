"""What each fast path (passbridge/fastpath) saves of the request it serves, each switched off alone.

In one process, on a store in a temporary data dir (SQLite, as `passbridge init` makes it): one app is
built with every fast path on, and one per fast path with that one off (`fastpath.configure(without=)`;
routes are built by create_app, the prepared statements and the signer switch per call). The ASGI apps
are called directly, one request at a time, so what is measured is the application's CPU per request
(time.process_time: all the process's threads, the threadpool's included) without HTTP parsing and
the access log, which add the same amount to every variant (~170 us a request, bench/README.md).

Rounds take turns: within a round, each request kind runs a batch on every variant back to back, and
the share is (off - on) / on, how much more the request costs with that fast path off, taken on each
variant's cheapest batch: load from other processes (this VM's slow phases, up to 40 %) only ever adds
CPU, so the cheapest batch is the steadiest figure. The per-round ratios (each variant against all-on
in the same round) are printed beside it as min / median / max, a gauge of the noise.

The requests: a client-credentials grant, a rotating refresh grant (ID token included, each variant
following its own chain), the Graph methods read with an application token, and the two pass sign-in
steps without a hash (GET /login, POST /login with the username): the proof step is an Argon2 verify
of ~20 ms, beside which no bypass weighs anything.

GraphRoute needs flat routes, so "routing" off is measured with GraphRoute off too; its own share on
the Graph read is printed as the difference.

Usage: bench/fastpath [--rounds 21] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import cli
from harness import cpu_model
from refresh import seed_chains

BASE = "http://127.0.0.1:8000"
FORM = b"application/x-www-form-urlencoded"
GOAL = 0.05
CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def cookie(self, name: str) -> str | None:
        prefix = name.encode() + b"="
        for key, value in self.headers:
            if key == b"set-cookie" and value.startswith(prefix):
                return value.split(b";", 1)[0].decode()
        return None


async def call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Answer:
    raw = [(b"host", b"127.0.0.1:8000"), *((k.lower().encode(), v.encode()) for k, v in headers.items())]
    if body:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "headers": raw,
    }  # fmt: skip
    answer = Answer(0)
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = list(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    return answer


# The requests each fast path serves (its verdict is taken on these; elsewhere its share is noise,
# printed as a gauge of it).
SERVES = {
    "routing": {"client-credentials grant", "refresh grant", "Graph methods read", "sign-in steps"},
    "graph_route": {"Graph methods read"},
    "token_shortcut": {"client-credentials grant", "refresh grant"},
    "prepared": {"client-credentials grant", "refresh grant", "Graph methods read", "sign-in steps"},
    "jws": {"client-credentials grant", "refresh grant"},
}


class Kind:
    """One request kind: `op(app, variant)` runs one request (or the sign-in's two) and checks it."""

    def __init__(self, name: str, batch: int, op: Callable[[Any, str], Any]) -> None:
        self.name, self.batch, self.op = name, batch, op


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--scale", type=float, default=1.0, help="batch sizes times this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="passbridge-bench-fastpath-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
        env.update(PASSBRIDGE_DATA_DIR=data_dir, PASSBRIDGE_BASE_URL=BASE)
        init = cli(env, "init", "--admin", "admin@bench.example", "--tenant-name", "Bench")
        graph_app = cli(
            env, "app", "add", "Bench", "--permission", "UserAuthenticationMethod.Read.All",
            "--permission", "User.Read.All",
        )  # fmt: skip
        rp = cli(env, "app", "add", "Bench RP", "--public", "--redirect-uri", "http://localhost/cb")
        asyncio.run(measure(data_dir, init, graph_app, rp["clientId"], args.rounds, args.scale))


async def measure(
    data_dir: str, init: dict[str, str], graph_app: dict[str, str], rp_id: str, rounds: int, scale: float
) -> None:
    from passbridge import fastpath
    from passbridge.app import create_app
    from passbridge.config import load_settings
    from passbridge.services.context import Env

    names = list(fastpath.REQUIRES)
    variants = ["on", *names]
    environment = Env.from_settings(load_settings(data_dir=Path(data_dir), base_url=BASE))
    apps = {}
    for variant in variants:
        fastpath.configure(True, without=[] if variant == "on" else [variant])
        apps[variant] = create_app(environment)
    gc.freeze()  # as the server does once the app is built
    differ = fastpath.mismatched()
    if differ:
        raise SystemExit(f"fast paths off for their library versions, nothing to measure: {differ}")
    chains = dict(zip(variants, seed_chains(data_dir, BASE, rp_id, len(variants)), strict=True))

    grant = urlencode(
        {"grant_type": "client_credentials", "client_id": graph_app["clientId"],
         "client_secret": graph_app["clientSecret"], "scope": f"{BASE}/.default"}
    ).encode()  # fmt: skip
    form = {"content-type": FORM.decode()}

    async def client_credentials(app: Any, variant: str) -> None:
        answer = await call(app, "POST", "/oauth2/v2.0/token", form, grant)
        assert answer.status == 200, answer.body

    token = (await call(apps["on"], "POST", "/oauth2/v2.0/token", form, grant)).body
    bearer = {"authorization": "Bearer " + re.search(rb'"access_token":"([^"]+)"', token).group(1).decode()}  # type: ignore[union-attr]
    read_path = f"/v1.0/users/{init['adminUserId']}/authentication/methods"

    async def graph_read(app: Any, variant: str) -> None:
        answer = await call(app, "GET", read_path, bearer)
        assert answer.status == 200, answer.body

    async def refresh(app: Any, variant: str) -> None:
        body = urlencode(
            {"grant_type": "refresh_token", "client_id": rp_id, "refresh_token": chains[variant]}
        )
        answer = await call(app, "POST", "/oauth2/v2.0/token", form, body.encode())
        assert answer.status == 200 and b'"id_token"' in answer.body, answer.body
        chains[variant] = re.search(rb'"refresh_token":"([^"]+)"', answer.body).group(1).decode()  # type: ignore[union-attr]

    async def signin_steps(app: Any, variant: str) -> None:
        page = await call(app, "GET", "/login", {})
        flow, csrf = page.cookie("pb_flow"), CSRF.search(page.body)
        assert page.status == 200 and flow and csrf, page.status
        body = urlencode({"csrf_token": csrf.group(1).decode(), "username": "admin@bench.example"})
        answer = await call(app, "POST", "/login", {**form, "cookie": flow}, body.encode())
        assert answer.status == 303, answer.body

    kinds = [
        Kind("client-credentials grant", int(300 * scale), client_credentials),
        Kind("refresh grant", int(150 * scale), refresh),
        Kind("Graph methods read", int(300 * scale), graph_read),
        Kind("sign-in steps", int(80 * scale), signin_steps),
    ]
    # Warm every variant (imports, caches, the first statements compiled) before measuring.
    for kind in kinds:
        for variant in variants:
            fastpath.configure(True, without=[] if variant == "on" else [variant])
            for _ in range(max(kind.batch // 5, 5)):
                await kind.op(apps[variant], variant)

    cost: dict[tuple[str, str], list[float]] = {}
    for round_number in range(rounds):
        order = variants[round_number % len(variants) :] + variants[: round_number % len(variants)]
        for kind in kinds:
            for variant in order:
                fastpath.configure(True, without=[] if variant == "on" else [variant])
                app = apps[variant]
                gc.collect()
                started = time.process_time()
                for _ in range(kind.batch):
                    await kind.op(app, variant)
                cost.setdefault((kind.name, variant), []).append((time.process_time() - started) / kind.batch)
        print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    fastpath.configure(True, without=[])
    environment.db.dispose()
    report(kinds, names, cost, rounds)


def report(
    kinds: list[Kind], names: list[str], cost: dict[tuple[str, str], list[float]], rounds: int
) -> None:
    versions = ", ".join(
        f"{d} {metadata.version(d)}"
        for d in ("fastapi", "starlette", "sqlalchemy", "authlib", "joserfc", "cryptography")
    )
    print(f"CPU: {cpu_model()}; Python {platform.python_version()}; {versions}")
    print(f"{rounds} rounds taking turns; app CPU per request in process (no HTTP), each variant's cheapest")
    print("batch; share = how much more a request costs with that fast path alone off, (off - on) / on")
    print(
        f"(goal: >= {GOAL:.0%} on a request it serves); per round: min / median / max of the rounds' ratios"
    )
    best: dict[str, float] = {}
    for kind in kinds:
        on = cost[(kind.name, "on")]
        label = {"refresh grant": " (rotating, ID token)", "sign-in steps": " (GET /login, POST /login)"}
        print(f"\n{kind.name}{label.get(kind.name, '')}: all on {min(on) * 1e6:,.0f} us")
        shares = {}
        for name in names:
            off = cost[(kind.name, name)]
            ratios = sorted(o / n - 1 for o, n in zip(off, on, strict=True))
            # Load from elsewhere only ever adds CPU (cache misses, the other hyperthread): each variant's
            # cheapest batch is the steadiest figure on a shared machine; the median ratio is printed beside.
            shares[name] = min(off) / min(on) - 1
            spread = (ratios[0], statistics.median(ratios), ratios[-1])
            served = "" if kind.name in SERVES[name] else "  (not served: noise)"
            print(
                f"  {name:15s} off {min(off) * 1e6:7,.0f} us  share {shares[name]:+6.1%}"
                f"  (per round {spread[0]:+.1%} / {spread[1]:+.1%} / {spread[2]:+.1%}){served}"
            )
        if "routing" in shares and "graph_route" in shares:
            own = shares["routing"] - shares["graph_route"]
            print(f"  {'routing alone':15s} (routing off minus graph_route off)   share {own:+6.1%}")
            shares["routing"] = own if kind.name == "Graph methods read" else shares["routing"]
        for name, share in shares.items():
            if kind.name in SERVES[name]:
                best[name] = max(best.get(name, -1.0), share)
    print("\nlargest share of a request it serves, and the verdict:")
    for name in names:
        print(f"  {name:15s} {best[name]:+6.1%}  {'pays' if best[name] >= GOAL else 'does not pay'}")


if __name__ == "__main__":
    main()
