"""Recovery's pages in process: "Lost your device?" from the sign-in pages, one answer for every name
(page, status and time), the form bound to its cookie, the manager's review behind the link (sign-in,
step-up to a passkey, approve once), and the helpdesk's queue in the admin portal."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from html import unescape

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.clock import ManualClock
from passbridge.directory.tenant import Initialised
from passbridge.recovery import rules
from passbridge.services.context import Env
from passbridge.store.models import RecoveryRequest, TemporaryAccessPass, User
from passbridge.web import recovery as recovery_pages
from tests.recovery.conftest import ADA, GRACE, add_person, recovery_mail, session_of
from tests.recovery.test_recovery_service import LINK, PASS
from tests.web.conftest import csrf_of, sign_in

FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def _ask(web: TestClient, username: str) -> httpx.Response:
    form = web.get("/recover")
    assert form.status_code == 200
    found = FORM_TOKEN.search(form.text)
    assert found is not None
    return web.post("/recover", data={"form_token": found.group(1), "username": username})


def _link(env: Env) -> str:
    [review] = [m for m in recovery_mail(env) if m.kind == "recovery-review"]
    found = LINK.search(review.text)
    assert found is not None
    return found.group(1)


def test_the_sign_in_pages_offer_lost_your_device(web: TestClient, env: Env, tenant: Initialised) -> None:
    login = web.get("/login")
    assert '<a href="/recover">Lost your device?</a>' in login.text
    add_person(env, ADA, "Ada Lovelace")
    steps = sign_in(web, ADA, "not-a-pass")
    assert '<a href="/recover">Lost your device?</a>' in steps.pass_page.text
    # From the pass page, the name typed at sign-in is filled in.
    prefilled = web.get("/recover")
    assert 'value="ada@contoso.example"' in prefilled.text
    assert '<label for="username">Username</label>' in prefilled.text


def test_every_name_gets_the_same_answer_in_the_same_time(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    _, grace = people
    add_person(env, "off@contoso.example", "Off", private="off@example.org", manager=grace.id, enabled=False)
    add_person(env, "solo@contoso.example", "Solo", private="solo@example.org")
    answers = []
    for name in (ADA, "nobody@contoso.example", "off@contoso.example", "solo@contoso.example"):
        started = time.monotonic()
        answer = _ask(web, name)
        elapsed = time.monotonic() - started
        assert answer.status_code == 200
        assert elapsed >= recovery_pages.ANSWER_FLOOR
        answers.append(answer.text.replace(name, "NAME"))
    assert all(a == answers[0] for a in answers)
    assert "Check your private email" in answers[0]
    # Nothing was recorded or mailed for the unknown name (nor the disabled one).
    assert {m.to for m in recovery_mail(env)} >= {GRACE}
    assert not [m for m in recovery_mail(env) if "nobody" in m.to or "off@" in m.to]


def test_the_form_works_only_with_its_own_cookie(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    form = web.get("/recover")
    found = FORM_TOKEN.search(form.text)
    assert found is not None
    web.cookies.clear()
    refused = web.post("/recover", data={"form_token": found.group(1), "username": ADA})
    assert refused.status_code == 400 and "Start again" in refused.text
    with env.db.transaction("read") as tx:
        assert tx.session.scalars(select(RecoveryRequest)).first() is None


def test_a_rate_limited_name_gets_the_same_429_whether_it_exists_or_not(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    refusals = []
    for name in (ADA, "nobody@contoso.example"):
        for _ in range(rules.PER_NAME.requests):
            assert _ask(web, name).status_code == 200
        refused = _ask(web, name)
        assert refused.status_code == 429
        refusals.append(refused.text.replace(name, "NAME"))
    assert refusals[0] == refusals[1]
    assert "Too many recovery requests" in refusals[0]


def test_the_review_link_sends_a_visitor_who_is_not_signed_in_to_sign_in_and_back(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    _ask(web, ADA)
    token = _link(env)
    answer = web.get(f"/recover/review/{token}")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?return_to=/recover/review/{token}"


def test_a_manager_signed_in_with_a_pass_is_asked_to_sign_in_with_a_passkey(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    _, grace = people
    _ask(web, ADA)
    token = _link(env)
    _, cookie = session_of(env, grace, acr="mfa")
    web.cookies.set("pb_session", cookie)
    answer = web.get(f"/recover/review/{token}")
    assert answer.status_code == 403
    assert "Sign in with your passkey to review" in answer.text
    assert f'href="/login?return_to=/recover/review/{token}"' in answer.text
    assert "Approve</button>" not in answer.text


def test_the_manager_approves_on_the_review_page_once_and_the_page_never_shows_the_pass(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    ada, grace = people
    _ask(web, ADA)
    token = _link(env)
    _, cookie = session_of(env, grace)
    web.cookies.set("pb_session", cookie)
    review = web.get(f"/recover/review/{token}")
    assert review.status_code == 200 and "Did Ada Lovelace lose their device?" in unescape(review.text)
    assert review.headers["referrer-policy"] == "no-referrer"
    decided = web.post(
        f"/recover/review/{token}", data={"csrf_token": csrf_of(review.text), "decision": "approve"}
    )
    assert decided.status_code == 200 and "Approved: the pass is on its way" in decided.text
    [carrier] = [m for m in recovery_mail(env) if m.kind == "recovery-pass"]
    found = PASS.search(carrier.text)
    assert found is not None
    value = found.group(1).replace(" ", "")
    assert value not in decided.text and found.group(1) not in decided.text
    mailed = len(recovery_mail(env))
    again = web.post(
        f"/recover/review/{token}", data={"csrf_token": csrf_of(review.text), "decision": "approve"}
    )
    assert again.status_code == 200 and "approved already" in again.text
    assert web.get(f"/recover/review/{token}").status_code == 200
    assert len(recovery_mail(env)) == mailed
    with env.db.transaction("read") as tx:
        assert (
            len(
                tx.session.scalars(
                    select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == ada.id)
                ).all()
            )
            == 1
        )


def test_a_forged_decision_without_the_sessions_token_changes_nothing(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    _, grace = people
    _ask(web, ADA)
    token = _link(env)
    _, cookie = session_of(env, grace)
    web.cookies.set("pb_session", cookie)
    forged = web.post(f"/recover/review/{token}", data={"csrf_token": "x", "decision": "approve"})
    assert forged.status_code == 400
    assert not [m for m in recovery_mail(env) if m.kind == "recovery-pass"]


def test_an_unknown_link_is_404_and_an_ended_one_410(
    web: TestClient, env: Env, clock: ManualClock, people: tuple[User, User]
) -> None:
    assert web.get("/recover/review/not-ours").status_code == 404
    assert web.get("/recover/review/" + "x" * 500).status_code == 404
    _ask(web, ADA)
    token = _link(env)
    clock.advance(seconds=(rules.REQUEST_LIFETIME + timedelta(seconds=1)).total_seconds())
    ended = web.get(f"/recover/review/{token}")
    assert ended.status_code == 410 and "This request has ended" in ended.text


def test_the_helpdesk_approves_from_the_portal_queue(
    web: TestClient, env: Env, tenant: Initialised, people: tuple[User, User]
) -> None:
    _ask(web, ADA)
    _, cookie = session_of(env, tenant.admin, acr="mfa")
    web.cookies.set("pb_session", cookie)
    queue = web.get("/admin/recovery")
    assert queue.status_code == 200
    assert 'href="/admin/recovery" aria-current="page">Recovery</a>' in queue.text
    assert "Ada Lovelace" in queue.text and "Their manager, Grace Hopper, was mailed a link" in queue.text
    with env.db.transaction("read") as tx:
        request_id = tx.session.scalars(select(RecoveryRequest.id)).one()
    decided = web.post(
        f"/admin/recovery/{request_id}", data={"csrf_token": csrf_of(queue.text), "decision": "approve"}
    )
    assert (decided.status_code, decided.headers["location"]) == (303, "/admin/recovery?done=approved")
    after = web.get(decided.headers["location"])
    assert (
        "Approved: the person receives a recover pass" in after.text
        and "No recovery request is waiting" in after.text
    )
    [carrier] = [m for m in recovery_mail(env) if m.kind == "recovery-pass"]
    assert f"approved by {tenant.admin.display_name}." in carrier.text
    forged = web.post(f"/admin/recovery/{request_id}", data={"csrf_token": "x", "decision": "deny"})
    assert forged.status_code == 400


def test_someone_without_an_administrator_role_gets_no_queue(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    ada, _ = people
    _, cookie = session_of(env, ada, acr="mfa")
    web.cookies.set("pb_session", cookie)
    assert web.get("/admin/recovery").status_code == 403


def test_someone_other_than_the_manager_is_refused_and_offered_to_sign_in_as_the_manager(
    web: TestClient, env: Env, people: tuple[User, User]
) -> None:
    ada, _ = people
    _ask(web, ADA)
    token = _link(env)
    _, cookie = session_of(env, ada)
    web.cookies.set("pb_session", cookie)
    answer = web.get(f"/recover/review/{token}")
    assert answer.status_code == 403
    assert "for Ada Lovelace&#39;s manager to review" in answer.text
    back = f"/login?return_to=/recover/review/{token}"
    assert f'<a href="{back}" class="button primary">Sign in as Grace Hopper</a>' in answer.text
    assert "Approve</button>" not in answer.text
