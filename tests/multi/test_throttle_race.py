"""Issue 12 §2.5 across processes: sixty wrong passes for one person, sent at once from eight source
addresses through a trusted proxy to two `passbridge serve` processes over one PostgreSQL store. The
throttle reserves each attempt before the hash, so exactly the threshold of them is checked; and the
browser the person signed in with before still gets in afterwards (§2.3)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from passbridge.store.models import SignInLogEntry, SignInThrottle
from tests.pg import fresh_schema
from tests.servers import PASSBRIDGE, free_port, initialised_store, serving

CLIENTS = 60
THRESHOLD = 10
ADA = "ada@contoso.example"
HOME = "198.51.100.10"
SOURCES = [f"203.0.113.{n}" for n in range(1, 9)]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def servers(tmp_path: Path, environ: dict[str, str], count: int) -> Iterator[list[str]]:
    with ExitStack() as stack:
        bases = []
        for i in range(count):
            port = free_port()
            base = f"http://localhost:{port}"
            stack.enter_context(
                serving({**environ, "PASSBRIDGE_BASE_URL": base}, port, tmp_path / f"server{i}.log")
            )
            bases.append(base)
        yield bases


async def to_pass_step(client: httpx.AsyncClient, source: str) -> str:
    """GET /login and post the username as a browser behind the proxy does; returns the CSRF token."""
    headers = {"X-Forwarded-For": source}
    # "Use another account": the username form even for a browser that is signed in already.
    page = await client.get("/login?another=1", headers=headers)
    csrf = CSRF.search(page.text)
    assert page.status_code == 200 and csrf is not None, page.text
    named = await client.post(
        "/login", data={"csrf_token": csrf.group(1), "return_to": "", "username": ADA}, headers=headers
    )
    assert (named.status_code, named.headers["location"]) == (303, "/login/pass"), named.text
    return csrf.group(1)


async def sign_in(client: httpx.AsyncClient, value: str, source: str) -> httpx.Response:
    csrf = await to_pass_step(client, source)
    return await client.post(
        "/login/pass", data={"csrf_token": csrf, "pass": value}, headers={"X-Forwarded-For": source}
    )


async def scenario(bases: list[str], value: str) -> tuple[list[httpx.Response], httpx.Response]:
    home = httpx.AsyncClient(base_url=bases[0], timeout=60)
    clients = [httpx.AsyncClient(base_url=bases[i % len(bases)], timeout=60) for i in range(CLIENTS)]
    try:
        first = await sign_in(home, value, HOME)
        assert first.status_code == 303 and "pb_device" in home.cookies, first.text
        sources = [SOURCES[i % len(SOURCES)] for i in range(CLIENTS)]
        tokens = await asyncio.gather(*(to_pass_step(c, s) for c, s in zip(clients, sources, strict=True)))
        guesses = await asyncio.gather(
            *(
                c.post("/login/pass", data={"csrf_token": t, "pass": "WRONG"}, headers={"X-Forwarded-For": s})
                for c, t, s in zip(clients, tokens, sources, strict=True)
            )
        )
        home.base_url = httpx.URL(bases[-1])  # the other process: the device cookie holds anywhere
        return list(guesses), await sign_in(home, value, HOME)
    finally:
        await asyncio.gather(home.aclose(), *(c.aclose() for c in clients))


@pytest.mark.multi
def test_parallel_guesses_across_two_servers_check_no_more_than_the_threshold(tmp_path: Path) -> None:
    with fresh_schema() as schema_url:
        environ = initialised_store(
            tmp_path,
            PASSBRIDGE_DATABASE_URL=schema_url,
            PASSBRIDGE_LOCKOUT_THRESHOLD=str(THRESHOLD),
            PASSBRIDGE_TRUSTED_PROXIES="127.0.0.1,::1",
        )
        subprocess.run([str(PASSBRIDGE), "user", "add", ADA], env=environ, check=True, capture_output=True)
        issued = subprocess.run(
            [str(PASSBRIDGE), "tap", "issue", ADA, "--json"], env=environ, check=True, capture_output=True
        )
        value = json.loads(issued.stdout)["temporaryAccessPass"]
        with servers(tmp_path, environ, 2) as bases:
            guesses, home_again = asyncio.run(scenario(bases, value))

        statuses = sorted(g.status_code for g in guesses)
        assert statuses == [401] * THRESHOLD + [429] * (CLIENTS - THRESHOLD), statuses
        assert {str(g.request.url).rsplit("/login", 1)[0] for g in guesses} == set(bases)
        assert home_again.status_code == 303, home_again.text

        engine = create_engine(schema_url)
        try:
            with engine.connect() as conn:
                logged = conn.execute(select(SignInLogEntry.error_code, SignInLogEntry.ip_address)).all()
                counters = conn.scalar(select(func.count()).select_from(SignInThrottle))
        finally:
            engine.dispose()
        codes = sorted(code for code, _ in logged)
        assert codes == [0, 0] + [50053] * (CLIENTS - THRESHOLD) + [50126] * THRESHOLD
        # Every entry names the address the proxy forwarded for, never the proxy.
        assert {ip for _, ip in logged} == {HOME, *SOURCES}
        assert counters is not None and counters > 0

    for i in range(2):
        output = (tmp_path / f"server{i}.log").read_text()
        assert "Traceback" not in output and " 500 " not in output
        assert value not in output
        # uvicorn's access line carries the same resolved address (its own proxy handling is off).
        assert re.search(r"203\.0\.113\.\d:0 - \"POST /login/pass", output), output[-2000:]
        assert "127.0.0.1:" not in "".join(line for line in output.splitlines() if "POST /login" in line)
