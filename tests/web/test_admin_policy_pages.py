"""The admin portal's policy page: edited by Policy Administrators through the same service as Graph's
PATCH; a refused value is explained next to its field and the old policy stays."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passbridge.passes.policy import PolicyService
from passbridge.passes.policy_rules import ALL_USERS
from passbridge.services.context import Env, operator
from tests.factories import make_group
from tests.web.conftest import csrf_of
from tests.web.test_admin_pages import _admin

POLICY_ADMIN = "Authentication Policy Administrator"


def _tap(env: Env):  # type: ignore[no-untyped-def]
    with env.db.transaction("read") as tx:
        return PolicyService(tx, env, operator()).tap_policy()


def _tap_form(csrf: str, **changes: str) -> dict[str, object]:
    form: dict[str, object] = {
        "csrf_token": csrf,
        "state": "enabled",
        "minimum_lifetime": "60",
        "maximum_lifetime": "480",
        "default_lifetime": "60",
        "default_length": "8",
        "include": [ALL_USERS],
    }
    form.update(changes)
    return form


def test_a_policy_administrator_changes_the_pass_policy(env: Env, web: TestClient) -> None:
    _admin(env, web, POLICY_ADMIN)
    csrf = csrf_of(web.get("/admin/policy").text)
    saved = web.post("/admin/policy/tap", data=_tap_form(csrf, maximum_lifetime="720", default_length="12"))
    assert saved.status_code == 303 and "saved=tap" in saved.headers["location"]
    policy = _tap(env)
    assert policy.maximum_lifetime == 720 and policy.default_length == 12
    assert "The policy was saved" in web.get(saved.headers["location"]).text


def test_a_bad_value_is_explained_next_to_its_field_and_the_old_policy_stays(
    env: Env, web: TestClient
) -> None:
    _admin(env, web, POLICY_ADMIN)
    before = _tap(env)
    csrf = csrf_of(web.get("/admin/policy").text)
    refused = web.post(
        "/admin/policy/tap", data=_tap_form(csrf, minimum_lifetime="600", maximum_lifetime="480")
    )
    assert refused.status_code == 400
    assert 'id="minimumLifetimeInMinutes-error"' in refused.text
    assert "The minimum lifetime (600) must not exceed the maximum lifetime (480)." in refused.text
    assert 'value="600"' in refused.text  # what was typed stays
    assert _tap(env) == before
    words = web.post("/admin/policy/tap", data=_tap_form(csrf, default_length="eight"))
    assert words.status_code == 400 and "The length must be a whole number." in words.text
    assert _tap(env) == before


def test_passkeys_are_limited_to_a_group_and_turned_off(env: Env, web: TestClient) -> None:
    _admin(env, web, POLICY_ADMIN)
    pilot = make_group(env, "Passkey pilot")
    csrf = csrf_of(web.get("/admin/policy").text)
    saved = web.post(
        "/admin/policy/passkeys", data={"csrf_token": csrf, "state": "enabled", "include": [pilot.id]}
    )
    assert saved.status_code == 303
    with env.db.transaction("read") as tx:
        fido2 = PolicyService(tx, env, operator()).methods_policy().fido2
    assert [t.id for t in fido2.include_targets] == [
        pilot.id
    ] and not fido2.is_self_service_registration_allowed
    off = web.post("/admin/policy/apps", data={"csrf_token": csrf, "include": [ALL_USERS]})
    assert off.status_code == 303
    with env.db.transaction("read") as tx:
        assert not PolicyService(tx, env, operator()).methods_policy().software_oath.enabled


def test_a_global_reader_reads_the_policy_and_cannot_change_it(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Reader")
    page = web.get("/admin/policy")
    assert page.status_code == 200 and "Temporary Access Pass" in page.text
    assert "Save pass settings" not in page.text and " disabled" in page.text
    before = _tap(env)
    refused = web.post("/admin/policy/tap", data=_tap_form(csrf_of(page.text), maximum_lifetime="900"))
    assert refused.status_code == 400 and _tap(env) == before


def test_an_authentication_administrator_cannot_read_the_policy_page(env: Env, web: TestClient) -> None:
    _admin(env, web, "Authentication Administrator")
    page = web.get("/admin/policy")
    assert page.status_code == 403 and "You cannot see the policy" in page.text
