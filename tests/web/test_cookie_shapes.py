"""Cookies not of the shape we issue are read as absent (web/pages.py `cookie`): a NUL sent as an octal
escape in the Cookie header once reached PostgreSQL in a flow lookup and gave a 500. Run on both
databases; each page answers as it does to a browser without that cookie."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from passbridge.services.context import Env
from tests.web.conftest import csrf_of, issue, username_form

NUL = '"a\\000b"'  # Starlette unquotes the octal escape to "a\x00b"
ODD = pytest.mark.parametrize("value", [NUL, '"\\377\\376"', "x" * 5_000], ids=["nul", "latin1", "huge"])


def _send(web: TestClient, method: str, path: str, cookie: str, **kw: object) -> int:
    web.cookies.clear()
    response = web.request(method, path, headers={"Cookie": cookie}, **kw)  # type: ignore[arg-type]
    return response.status_code


@pytest.mark.parametrize("value", [NUL, "0" * 36], ids=["nul", "not-a-guid"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/login"),
        ("GET", "/login/pass"),
        ("GET", "/login/code"),
        ("POST", "/login/pass"),
        ("POST", "/login/code"),
        ("POST", "/login/passkey"),
        ("POST", "/login/passkey/options"),
    ],
)
def test_an_odd_flow_cookie_is_read_as_no_flow(
    web: TestClient, ada: str, method: str, path: str, value: str
) -> None:
    status = _send(web, method, path, f"pb_flow={value}", data={"csrf_token": "x", "pass": "y"})
    assert status < 500
    assert _send(web, method, path, "", data={"csrf_token": "x", "pass": "y"}) == status


@ODD
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/apps"), ("GET", "/security-info"), ("GET", "/setup-methods")]
)
def test_an_odd_session_cookie_is_read_as_signed_out(
    web: TestClient, ada: str, method: str, path: str, value: str
) -> None:
    web.cookies.clear()
    answer = web.request(method, path, headers={"Cookie": f"pb_session={value}"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), answer.text


@ODD
def test_an_odd_device_cookie_is_an_untrusted_browser_and_the_pass_still_signs_in(
    env: Env, web: TestClient, ada: str, value: str
) -> None:
    issued = issue(env, ada)
    web.cookies.clear()
    login = web.get("/login")
    flow = web.cookies["pb_flow"]
    named = web.post("/login", data=username_form(login.text, ada))
    assert named.status_code == 303
    jar = f"pb_flow={flow}; pb_device={value}"
    page = web.get("/login/pass", headers={"Cookie": jar})
    proved = web.post(
        "/login/pass", data={"csrf_token": csrf_of(page.text), "pass": issued.value}, headers={"Cookie": jar}
    )
    assert proved.status_code == 303, proved.text


def test_a_nul_flow_cookie_beside_a_good_session_keeps_the_session(
    env: Env, web: TestClient, ada: str
) -> None:
    issued = issue(env, ada)
    login = web.get("/login")
    web.post("/login", data=username_form(login.text, ada))
    page = web.get("/login/pass")
    proved = web.post("/login/pass", data={"csrf_token": csrf_of(page.text), "pass": issued.value})
    assert proved.status_code == 303
    session = web.cookies["pb_session"]
    web.cookies.clear()
    apps = web.get("/apps", headers={"Cookie": f"pb_session={session}; pb_flow={NUL}"})
    assert apps.status_code == 200, apps.text


def test_a_flow_id_not_of_our_shape_in_the_login_link_is_start_again(web: TestClient, ada: str) -> None:
    """`?flow=` (the authorize endpoint's link) names a flow as the cookie does: a NUL was a 500."""
    for flow in ["a%00b", "0" * 36]:
        answer = web.get(f"/login?flow={flow}")
        assert answer.status_code == 400 and "Start again" in answer.text, answer.text
