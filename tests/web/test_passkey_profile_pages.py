"""The portal's passkey profile pages with bad input: a readable message on the page, the profiles
unchanged, never a 500; a Global Reader reads but cannot change."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passbridge.methods.passkey_profiles import DEFAULT_PROFILE_ID
from passbridge.methods.policy_rules import FIDO2
from passbridge.passes.policy import PolicyService
from passbridge.services.context import Env, operator
from tests.factories import make_group
from tests.web.conftest import csrf_of
from tests.web.test_admin_pages import _admin

HOME = "/admin/policy/passkey-profiles"
POLICY_ADMIN = "Authentication Policy Administrator"


def _profiles(env: Env) -> list[str]:
    with env.db.transaction("read") as tx:
        _, fido2 = PolicyService(tx, env, operator()).configuration(FIDO2)
    return [p.name for p in fido2.profiles]  # type: ignore[union-attr]


def _form(csrf: str, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {"csrf_token": csrf, "name": "Admins", "passkey_types": "deviceBound"}
    form.update(changes)
    return form


def test_bad_profiles_are_explained_on_the_page_and_nothing_changes(env: Env, web: TestClient) -> None:
    _admin(env, web, POLICY_ADMIN)
    csrf = csrf_of(web.get(f"{HOME}/new").text)
    cases = [
        (_form(csrf, name=""), "A passkey profile needs a name."),
        (_form(csrf, name="x" * 65), "at most 64 characters"),
        (_form(csrf, passkey_types="roaming"), "Passkey types must allow deviceBound, synced or both."),
        (_form(csrf, name="default passkey profile"), "Two passkey profiles are named"),
        (
            _form(csrf, restriction="allow", aaguids="not-a-guid"),
            "AAGUIDs: &#39;not-a-guid&#39; is not a GUID.",
        ),
        (
            _form(
                csrf,
                attestation="yes",
                trust_roots="-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----",
            ),
            "readable PEM",
        ),
        (_form(csrf, group="3c3b7a5e-0000-4000-8000-00000000dead"), "no group"),
    ]
    for form, words in cases:
        refused = web.post(f"{HOME}/new", data=form)
        assert refused.status_code == 400, (form, refused.text[:300])
        assert words in refused.text, words
        assert "Nothing was saved" in refused.text
    assert _profiles(env) == ["Default passkey profile"]


def test_unknown_profile_is_a_not_found_page_and_the_default_cannot_be_deleted(
    env: Env, web: TestClient
) -> None:
    _admin(env, web, POLICY_ADMIN)
    assert web.get(f"{HOME}/not-a-profile").status_code == 404
    csrf = csrf_of(web.get(f"{HOME}/{DEFAULT_PROFILE_ID}").text)
    gone = web.post(f"{HOME}/{DEFAULT_PROFILE_ID}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 400 and "cannot be deleted" in gone.text
    missing = web.post(f"{HOME}/3c3b7a5e-0000-4000-8000-00000000dead", data=_form(csrf))
    assert missing.status_code == 404 and "No such passkey profile" in missing.text
    assert web.post(f"{HOME}/new", data=_form("wrong")).status_code == 400
    assert _profiles(env) == ["Default passkey profile"]


def test_a_profile_added_in_the_portal_is_assigned_to_its_group(env: Env, web: TestClient) -> None:
    _admin(env, web, POLICY_ADMIN)
    group = make_group(env, "Admins")
    csrf = csrf_of(web.get(f"{HOME}/new").text)
    added = web.post(f"{HOME}/new", data=_form(csrf, group=group.id))
    assert added.status_code == 303
    listed = web.get(added.headers["location"]).text
    assert "The passkey profile was added." in listed and "Device-bound only" in listed
    with env.db.transaction("read") as tx:
        _, fido2 = PolicyService(tx, env, operator()).configuration(FIDO2)
        profile = fido2.profile_for("someone", [group.id])  # type: ignore[union-attr]
    assert profile.name == "Admins"


def test_a_global_reader_sees_the_profiles_without_a_save_button(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Reader")
    page = web.get(HOME)
    assert page.status_code == 200 and "Default passkey profile" in page.text
    assert "Add a passkey profile" not in page.text
    form = web.get(f"{HOME}/{DEFAULT_PROFILE_ID}").text
    assert "Save profile" not in form
    refused = web.post(f"{HOME}/new", data=_form(csrf_of(form)))
    assert refused.status_code == 400 and "Authentication Policy Administrator" in refused.text
    assert _profiles(env) == ["Default passkey profile"]
