"""Signing in through the pages of a real server leaves no pass (right or wrong) anywhere: not in the
server's output with its access log on, not in any table, not in the pages or the Graph logs."""

from __future__ import annotations

import json
import secrets
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import pytest
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.exc import SAWarning

from passbridge.passes.rules import ALPHABET
from tests.multi.test_pass_race import CSRF
from tests.servers import PASSBRIDGE, ServedStore, served_store


@pytest.fixture(params=["text", "json"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServedStore]:
    """Logs as shipped, and as PASSBRIDGE_LOG_FORMAT=json writes them (with metrics on: every layer)."""
    settings = (
        {"PASSBRIDGE_LOG_FORMAT": "json", "PASSBRIDGE_METRICS": "open"} if request.param == "json" else {}
    )
    with served_store(tmp_path, "AuditLog.Read.All", **settings) as served:
        yield served


def cli(server: ServedStore, *args: str) -> str:
    done = subprocess.run(
        [str(PASSBRIDGE), *args], env=server.environ, check=True, capture_output=True, text=True
    )
    return done.stdout


def sign_in(client: httpx.Client, username: str, value: str) -> list[httpx.Response]:
    """The browser's three requests; every response is returned so its body can be searched."""
    login = client.get("/login")
    csrf = CSRF.search(login.text)
    assert login.status_code == 200 and csrf is not None
    named = client.post("/login", data={"csrf_token": csrf.group(1), "username": username})
    assert named.status_code == 303
    pass_page = client.get("/login/pass")
    csrf = CSRF.search(pass_page.text)
    assert pass_page.status_code == 200 and csrf is not None
    proved = client.post("/login/pass", data={"csrf_token": csrf.group(1), "pass": value})
    return [login, named, pass_page, proved]


def every_table(database: Path) -> str:
    """Every column of every row of every table, as text."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        tables = MetaData()
        with warnings.catch_warnings():
            # SQLAlchemy cannot reflect SQLite's expression indexes; the columns are what we read.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
            tables.reflect(engine)
        with engine.connect() as conn:
            rows = {t.name: [list(r) for r in conn.execute(select(t))] for t in tables.sorted_tables}
    finally:
        engine.dispose()
    assert rows["sign_in_log"] and rows["audit_entry"]
    return json.dumps(rows, default=str)


def test_passes_right_and_wrong_never_reach_output_tables_or_responses(server: ServedStore) -> None:
    cli(server, "user", "add", "ada@contoso.example")
    cli(server, "user", "add", "bob@contoso.example")
    ada_pass = json.loads(cli(server, "tap", "issue", "ada@contoso.example", "--reusable", "--json"))[
        "temporaryAccessPass"
    ]
    bob_pass = json.loads(cli(server, "tap", "issue", "bob@contoso.example", "--one-time", "--json"))[
        "temporaryAccessPass"
    ]
    guesses = []
    while len(guesses) < 3:
        guess = "".join(secrets.choice(ALPHABET) for _ in range(len(ada_pass)))
        if guess not in (ada_pass, bob_pass):
            guesses.append(guess)

    responses: list[httpx.Response] = []
    attempts = [
        ("ada@contoso.example", guesses[0], 401),
        ("ada@contoso.example", guesses[1], 401),
        ("ada@contoso.example", ada_pass, 303),
        ("bob@contoso.example", bob_pass, 303),
        ("bob@contoso.example", bob_pass, 401),  # one-time: already used
        ("nobody@contoso.example", guesses[2], 401),
    ]
    for username, value, status in attempts:
        with httpx.Client(base_url=server.base, timeout=30) as browser:
            answered = sign_in(browser, username, value)
            assert answered[-1].status_code == status, answered[-1].text
            if status == 303:
                answered.append(browser.get(answered[-1].headers["location"], follow_redirects=True))
            responses += answered

    headers = {"Authorization": f"Bearer {server.app_token()}"}
    for version in ("v1.0", "beta"):
        for log in ("signIns", "directoryAudits"):
            listing = httpx.get(f"{server.base}/{version}/auditLogs/{log}", headers=headers, timeout=30)
            assert listing.status_code == 200, listing.text
            responses.append(listing)
            for entry in listing.json()["value"]:
                one = httpx.get(f"{server.base}/{version}/auditLogs/{log}/{entry['id']}", headers=headers)
                assert one.status_code == 200
                responses.append(one)
    sign_ins = [r for r in responses if "/auditLogs/signIns" in str(r.url) and "value" in r.json()]
    assert [len(r.json()["value"]) for r in sign_ins] == [len(attempts)] * 2

    server.proc.terminate()
    server.proc.wait(timeout=20)
    output = server.log_file.read_text()
    # The capture is real: uvicorn's access log saw each pass being posted.
    assert output.count("POST /login/pass HTTP/1.1") == len(attempts)
    if server.environ.get("PASSBRIDGE_LOG_FORMAT") == "json":
        json_lines_describe_each_request(output, responses, len(attempts))
    tables = every_table(Path(server.environ["PASSBRIDGE_DATA_DIR"]) / "passbridge.db")
    bodies = "\n".join(f"{r.headers}\n{r.text}" for r in responses)
    for value in (ada_pass, bob_pass, *guesses):
        for form in {value, quote_plus(value)}:
            assert form not in output
            assert form not in tables
            assert form not in bodies


def json_lines_describe_each_request(output: str, responses: list[httpx.Response], attempts: int) -> None:
    """Every line is one JSON object; each response's request-id names its access line, which says the
    route and the outcome; the sign-in's application line carries the same request id."""
    lines = [json.loads(line) for line in output.splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    access = {line["request_id"]: line for line in lines if line["logger"] == "uvicorn.access"}
    for response in responses:
        line = access[response.headers["request-id"]]
        assert line["status"] == response.status_code
        assert line["method"] == response.request.method
        assert line["client"] == "127.0.0.1"
        assert isinstance(line["duration_ms"], float)
    posts = [line for line in access.values() if line["route"] == "/login/pass" and line["method"] == "POST"]
    assert len(posts) == attempts
    outcomes = [line for line in lines if line["logger"] == "passbridge.signin.flow"]
    assert len(outcomes) == attempts
    for outcome in outcomes:
        assert outcome["route"] == access[outcome["request_id"]]["route"] == "/login/pass"
        assert outcome["message"].startswith("sign-in ")
