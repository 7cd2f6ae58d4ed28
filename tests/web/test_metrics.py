"""GET /metrics in one process: off unless configured, the token when asked for, and counters that move
with what the API and the pages did (tests/multi/test_metrics_workers.py adds several workers up)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from passbridge import metrics
from passbridge.clock import ManualClock
from passbridge.config import ConfigError, load_settings
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import User
from passbridge.store.tx import Tx
from passbridge.tokens.service import issue_app_token
from tests.factories import make_app
from tests.web.conftest import browser, issue, sign_in

TOKEN = "metrics-token-" + "m" * 40
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, **headers: str) -> Samples:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return parse(answer.text)


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metered(env: Env, tenant: Initialised) -> Iterator[tuple[Env, TestClient]]:
    """An app whose /metrics is open, on the test's store and clock."""
    opened = Env.from_settings(env.settings.model_copy(update={"metrics": "open"}), env.clock)
    with browser(opened) as client:
        yield opened, client
    opened.db.dispose()


def test_metrics_are_off_by_default_with_no_route(web: TestClient) -> None:
    assert web.get("/metrics").status_code == 404


def test_metrics_token_mode_answers_only_the_bearer_token(env: Env, tenant: Initialised) -> None:
    settings = env.settings.model_copy(update={"metrics": "token", "metrics_token": TOKEN})
    guarded = Env.from_settings(settings, env.clock)
    try:
        with browser(guarded) as client:
            for headers in ({}, {"Authorization": f"Bearer {TOKEN[:-1]}x"}, {"Authorization": TOKEN}):
                refused = client.get("/metrics", headers=headers)
                assert refused.status_code == 401
                assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
                assert "passbridge_" not in refused.text
            allowed = scrape(client, Authorization=f"Bearer {TOKEN}")
            assert value(allowed, "passbridge_passes", state="active") == 1  # the administrator's
    finally:
        guarded.db.dispose()


def test_sign_ins_and_passes_are_counted_by_method_and_result(
    metered: tuple[Env, TestClient], ada: str
) -> None:
    env, client = metered
    before = scrape(client)
    issued = issue(env, ada)
    wrong = issued.value[:-1] + ("a" if issued.value[-1] != "a" else "b")
    assert sign_in(client, ada, wrong).proved.status_code == 401
    client.cookies.clear()
    assert sign_in(client, ada, issued.value).proved.status_code == 303
    after = scrape(client)
    tap = "temporaryAccessPass"
    for name, labels, moved in [
        ("passbridge_sign_ins_total", {"method": tap, "result": "success"}, 1),
        ("passbridge_sign_ins_total", {"method": tap, "result": "failure"}, 1),
        ("passbridge_passes_issued_total", {}, 1),
        ("passbridge_passes_used_total", {}, 1),
        # Two verifies (the wrong pass and the right one), one hash (the issue).
        ("passbridge_argon2_seconds_count", {"operation": "verify"}, 2),
        ("passbridge_argon2_seconds_count", {"operation": "hash"}, 1),
    ]:
        assert value(after, name, **labels) - value(before, name, **labels) == moved, (name, labels)


def test_passes_by_state_are_read_from_the_store_at_scrape_time(
    metered: tuple[Env, TestClient], ada: str
) -> None:
    env, client = metered
    issue(env, ada)
    # The administrator's pass from init, and Ada's.
    assert value(scrape(client), "passbridge_passes", state="active") == 2
    assert isinstance(env.clock, ManualClock)
    env.clock.advance(days=2)  # past the default lifetime: the same rows, now expired
    after = scrape(client)
    assert value(after, "passbridge_passes", state="active") == 0
    assert value(after, "passbridge_passes", state="expired") == 2


def test_request_latency_is_labelled_by_route_template_never_the_raw_path(
    metered: tuple[Env, TestClient], ada: str
) -> None:
    env, client = metered
    before = scrape(client)
    created = make_app(env, permissions=("User.Read.All",))
    with env.db.transaction("read") as tx:
        token = issue_app_token(tx, env, created.application).access_token
    assert client.get(f"/v1.0/users/{ada}", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/no/such/place-1234").status_code == 404
    granted = client.post(
        "/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created.application.app_id,
            "client_secret": created.client_secret or "",
            "scope": "http://localhost:8000/.default",
        },
    )
    assert granted.status_code == 200, granted.text
    text = client.get("/metrics").text
    samples = parse(text)
    name = "passbridge_http_request_duration_seconds_count"
    for labels in [
        {"method": "GET", "route": "/v1.0/users/{ref}", "status": "2xx"},
        {"method": "GET", "route": "unmatched", "status": "4xx"},
        # The token endpoint's fast path answers before routing and is still timed, under its template.
        {"method": "POST", "route": "/oauth2/v2.0/token", "status": "2xx"},
    ]:
        assert value(samples, name, **labels) - value(before, name, **labels) == 1, labels
    assert ada not in text and "place-1234" not in text


def test_the_api_for_other_features_reaches_the_scrape(metered: tuple[Env, TestClient]) -> None:
    _, client = metered
    before = scrape(client)
    metrics.scim_operation("User", "create", 201)
    metrics.mail_sent("retry")
    metrics.mail_sent("sent")

    def users_as_outbox(tx: Tx) -> dict[str, int]:
        return {"pending": int(tx.scalar(select(func.count()).select_from(User)))}

    metrics.outbox_depth_source(users_as_outbox)
    try:
        after = scrape(client)
    finally:
        metrics.outbox_depth_source(None)
    scim = {"resource": "User", "operation": "create", "status": "201"}
    assert (
        value(after, "passbridge_scim_operations_total", **scim)
        - value(before, "passbridge_scim_operations_total", **scim)
        == 1
    )
    for result in ("retry", "sent"):
        moved = value(after, "passbridge_mail_sent_total", result=result) - value(
            before, "passbridge_mail_sent_total", result=result
        )
        assert moved == 1
    assert value(after, "passbridge_mail_outbox", state="pending") == 1  # the tenant's administrator


def test_metrics_token_mode_without_a_long_token_stops_at_start_with_one_line() -> None:
    for token in (None, "short"):
        with pytest.raises(ConfigError) as refused:
            load_settings(metrics="token", metrics_token=token)
        assert str(refused.value) == (
            "invalid configuration: PASSBRIDGE_METRICS=token needs PASSBRIDGE_METRICS_TOKEN"
            " of at least 32 characters"
        )
    assert load_settings(metrics="token", metrics_token=TOKEN).metrics == "token"


def test_scim_requests_and_the_real_outbox_are_counted(metered: tuple[Env, TestClient]) -> None:
    env, client = metered
    from passbridge.mail.outbox import Mail, enqueue
    from tests.scim.conftest import USER, new_token

    auth = {"Authorization": f"Bearer {new_token(env)}"}
    before = scrape(client)
    made = client.post(
        "/scim/v2/Users", json={"schemas": [USER], "userName": "ada@contoso.example"}, headers=auth
    )
    assert made.status_code == 201
    assert client.get("/scim/v2/Users/00000000-0000-0000-0000-000000000000", headers=auth).status_code == 404
    with env.db.transaction() as tx:
        enqueue(tx, env, Mail("ada@contoso.example", "Hello", "text", "<p>html</p>", "test"))
    after = scrape(client)
    for labels in (
        {"resource": "User", "operation": "create", "status": "201"},
        {"resource": "User", "operation": "get", "status": "404"},
    ):
        moved = value(after, "passbridge_scim_operations_total", **labels) - value(
            before, "passbridge_scim_operations_total", **labels
        )
        assert moved == 1, labels
    assert (
        value(after, "passbridge_mail_outbox", state="pending")
        - value(before, "passbridge_mail_outbox", state="pending")
        == 1
    )
