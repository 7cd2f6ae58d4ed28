"""The joiner workflow's settings through Graph's shape (a Passbridge extension), the CLI and the portal."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from passbridge.cli.base import run
from passbridge.config import Settings
from passbridge.services.context import Env
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.web.conftest import browser, csrf_of
from tests.web.test_admin_pages import _admin

URL = "/beta/passbridge/joinerWorkflow"
WRITE = "Policy.ReadWrite.AuthenticationMethod"


def test_graph_reads_and_patches_the_settings(api: TestClient, app_auth: TokenFactory) -> None:
    writer = app_auth(WRITE)
    first = api.get(URL, headers=writer)
    assert first.status_code == 200, first.text
    assert first.json()["isEnabled"] is False and first.json()["daysBeforeHireDate"] == 1
    changed = api.patch(
        URL, json={"isEnabled": True, "daysBeforeHireDate": 3, "lifetimeInMinutes": 480}, headers=writer
    )
    assert changed.status_code == 204, changed.text
    now = api.get(URL, headers=writer).json()
    assert (now["isEnabled"], now["daysBeforeHireDate"], now["lifetimeInMinutes"]) == (True, 3, 480)
    assert now["enabledDateTime"] is not None
    assert_graph_error(api.patch(URL, json={"lifetimeInMinutes": 5}, headers=writer), 400, "badRequest")
    assert_graph_error(api.patch(URL, json={"daysBeforeHireDate": "3"}, headers=writer), 400, "badRequest")
    assert_graph_error(api.patch(URL, json={"colour": "red"}, headers=writer), 400, "badRequest")
    reader = app_auth("Policy.Read.All")
    assert api.get(URL, headers=reader).status_code == 200
    assert api.patch(URL, json={"isEnabled": False}, headers=reader).status_code == 403
    assert api.get(URL, headers=app_auth("User.Read.All")).status_code == 403


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_cli_shows_sets_and_runs_it(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    code, out, _ = _cli(capsys, "joiner", "set", "--enable", "--days-before", "2", "--multi-use", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["isEnabled"], data["daysBeforeHireDate"], data["isUsableOnce"]) == (True, 2, False)
    code, out, _ = _cli(capsys, "joiner", "show")
    assert code == 0 and "Joiner workflow: on" in out and "2 day(s) before" in out
    code, _, err = _cli(capsys, "joiner", "set", "--lifetime", "5")
    assert code != 0 and err.count("\n") == 1 and "between" in err
    code, out, _ = _cli(capsys, "joiner", "run")
    assert code == 0 and "0 passes issued" in out
    code, out, _ = _cli(capsys, "joiner", "runs")
    assert code == 0 and "has not run for anyone yet" in out


def test_the_portal_saves_it_and_explains_a_refused_value(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Administrator")
    shown = web.get("/admin/joiner")
    assert shown.status_code == 200 and "Joiner workflow" in shown.text
    csrf = csrf_of(shown.text)
    base = {"csrf_token": csrf, "enabled": "yes", "days_before": "1", "one_time": "yes"}
    refused = web.post("/admin/joiner", data={**base, "lifetime": "99999"})
    assert refused.status_code == 400
    assert 'id="lifetime-error"' in refused.text and 'value="99999"' in refused.text
    saved = web.post("/admin/joiner", data={**base, "lifetime": ""})
    assert saved.status_code == 303
    assert "The joiner workflow was saved" in web.get(saved.headers["location"]).text
    with browser(env) as other:
        _admin(env, other, "Global Reader", upn="reader@contoso.example")
        page = other.get("/admin/joiner")
        assert page.status_code == 200 and "Save the joiner workflow" not in page.text
        refused_post = other.post("/admin/joiner", data={**base, "csrf_token": csrf_of(page.text)})
        assert refused_post.status_code == 403
