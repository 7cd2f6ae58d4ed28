"""Security info says what is true: an unnamed method is called by its kind once ("Passkey", never
"Passkey Passkey"), a used one-time pass is shown apart as used (Graph still lists it, unchanged), and
removing the last passkey or app says whether a pass still signs the person in."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from passbridge.services.context import Env
from passbridge.store.models import User
from passbridge.tokens.service import issue_app_token
from tests.factories import make_app
from tests.softkey import SoftAuthenticator
from tests.web.conftest import BASE, csrf_of, issue, sign_in

PASSKEY_ID = re.compile(r'action="/security-info/passkey/([^/]+)/delete"')


def _signed_in(env: Env, web: TestClient, ada: str, *, one_time: bool) -> str:
    assert sign_in(web, ada, issue(env, ada, one_time=one_time).value).proved.status_code == 303
    return csrf_of(web.get("/security-info").text)


def _add_passkey(web: TestClient, csrf: str, name: str) -> str:
    data = web.post("/security-info/passkeys/options", data={"csrf_token": csrf}).json()
    answer = SoftAuthenticator(BASE).create(data["publicKey"])
    fields = {"csrf_token": csrf, "ceremony_id": data["ceremonyId"], "credential": answer, "name": name}
    assert web.post("/security-info/passkeys", data=fields).status_code == 303
    found = PASSKEY_ID.search(web.get("/security-info").text)
    assert found is not None
    return found.group(1)


def _methods_list(page: str) -> str:
    """The list of sign-in methods on the page (not the history below it)."""
    start = page.find('<ul class="methods">')
    return page[start : page.find("</ul>", start)] if start >= 0 else ""


def test_an_unnamed_passkey_is_called_passkey_once(env: Env, web: TestClient, ada: str) -> None:
    csrf = _signed_in(env, web, ada, one_time=False)
    _add_passkey(web, csrf, "")
    page = web.get("/security-info").text
    assert "<h2>Passkey</h2>" in page
    assert "Passkey Passkey" not in re.sub(r"<[^>]+>", "", page).replace("\n", " ")
    # A named one keeps its kind in front of its name.
    _add_passkey(web, csrf, "Work laptop")
    assert '<h2><span class="kind">Passkey</span> Work laptop</h2>' in web.get("/security-info").text


def test_a_used_one_time_pass_is_shown_apart_as_used_and_graph_still_lists_it(
    env: Env, web: TestClient, ada: str
) -> None:
    _signed_in(env, web, ada, one_time=True)
    page = unescape(web.get("/security-info").text)
    assert "Temporary Access Pass" not in _methods_list(page)
    assert "You have no sign-in methods yet." in page
    assert "Passes you can no longer use" in page
    assert "Temporary Access Pass, for one sign-in:\n      <strong>used</strong>" in page
    # Graph's own list is what it always was: the pass, with isUsable false and OneTimeUsed.
    created = make_app(env, permissions=("UserAuthenticationMethod.Read.All",))
    with env.db.transaction("read") as tx:
        token = issue_app_token(tx, env, created.application).access_token
        user_id = tx.session.query(User.id).filter(User.user_principal_name == ada).scalar()
    listed = web.get(
        f"/v1.0/users/{user_id}/authentication/temporaryAccessPassMethods",
        headers={"Authorization": f"Bearer {token}"},
    ).json()["value"]
    assert [(p["isUsable"], p["methodUsabilityReason"]) for p in listed] == [(False, "OneTimeUsed")]


def test_removing_the_last_passkey_says_a_reusable_pass_still_signs_you_in_until_it_ends(
    env: Env, web: TestClient, ada: str
) -> None:
    csrf = _signed_in(env, web, ada, one_time=False)
    passkey = _add_passkey(web, csrf, "Phone")
    asked = unescape(web.post(f"/security-info/passkey/{passkey}/delete", data={"csrf_token": csrf}).text)
    assert "Remove your last sign-in method?" in asked
    assert "you can still sign in with your Temporary Access Pass until" in asked
    assert "you can only sign in with a new Temporary Access Pass" not in asked


def test_removing_the_last_passkey_after_a_one_time_pass_was_used_says_only_a_new_pass_helps(
    env: Env, web: TestClient, ada: str
) -> None:
    csrf = _signed_in(env, web, ada, one_time=True)
    passkey = _add_passkey(web, csrf, "Phone")
    asked = unescape(web.post(f"/security-info/passkey/{passkey}/delete", data={"csrf_token": csrf}).text)
    assert "Remove your last sign-in method?" in asked
    assert "you can only sign in with a new Temporary Access Pass from your\n    helpdesk." in asked
    assert "you can still sign in" not in asked
