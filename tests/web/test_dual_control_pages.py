"""Dual control's portal pages in-process: the issue form answers with "Awaiting approval" and no pass; forms
without the session's CSRF token change nothing; the requester sees no Approve and a forged approval is
refused with a page; unknown ids and bad settings get readable pages, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.passes.approval import ApprovalService
from passbridge.services.context import Env, operator
from passbridge.store.models import PassApprovalRequest, TemporaryAccessPass
from tests.factories import make_user
from tests.web.conftest import browser, csrf_of, issue, sign_in

PAA = "Privileged Authentication Administrator"


def _admin(env: Env, upn: str, *roles: str) -> TestClient:
    make_user(env, upn, display_name=upn.split("@")[0].title(), roles=roles)
    client = browser(env)
    steps = sign_in(client, upn, issue(env, upn).value)
    assert steps.proved.status_code == 303, steps.proved.text
    return client


def _request_id(env: Env) -> str:
    with env.db.transaction("read") as tx:
        return str(tx.session.scalars(select(PassApprovalRequest.id)).one())


def test_issuing_for_a_role_holder_says_awaiting_approval_and_the_requester_cannot_approve(
    env: Env, web: TestClient
) -> None:
    megan = _admin(env, "megan@contoso.example", PAA)
    lee = _admin(env, "lee@contoso.example", PAA)
    diego = make_user(env, "diego@contoso.example", display_name="Diego", roles=("Global Reader",))
    with env.db.transaction() as tx:
        ApprovalService(tx, env, operator()).set_settings(enabled=True)

    form = megan.get(f"/admin/users/{diego.id}/pass")
    done = megan.post(
        f"/admin/users/{diego.id}/pass", data={"csrf_token": csrf_of(form.text), "lifetime": "60"}
    )
    assert done.status_code == 200 and "Awaiting approval by a second administrator" in done.text
    assert "data-pass" not in done.text
    request_id = _request_id(env)
    assert f'href="/admin/approvals/{request_id}"' in done.text

    own = megan.get(f"/admin/approvals/{request_id}")
    assert own.status_code == 200 and ">Approve<" not in own.text and "Cancel the request" in own.text
    forged = megan.post(f"/admin/approvals/{request_id}/approve", data={"csrf_token": csrf_of(own.text)})
    assert forged.status_code == 403 and "cannot be approved by its requester" in forged.text

    queue = lee.get("/admin/approvals")
    assert queue.status_code == 200 and "Approve the pass for Diego" in queue.text
    stale = lee.post(f"/admin/approvals/{request_id}/approve", data={"csrf_token": "forged"})
    assert stale.status_code == 400 and "That form has expired" in stale.text
    approved = lee.post(
        f"/admin/approvals/{request_id}/approve",
        data={"csrf_token": csrf_of(queue.text)},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    twice = lee.post(f"/admin/approvals/{request_id}/deny", data={"csrf_token": csrf_of(queue.text)})
    assert twice.status_code == 409 and "This request is approved" in twice.text

    page = megan.get(f"/admin/approvals/{request_id}")
    collected = megan.post(f"/admin/approvals/{request_id}/collect", data={"csrf_token": csrf_of(page.text)})
    assert collected.status_code == 200 and "data-pass=" in collected.text
    with env.db.transaction("read") as tx:
        held = tx.session.scalars(select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == diego.id))
        assert len(held.all()) == 1


def test_unknown_requests_and_bad_settings_get_readable_pages(env: Env, web: TestClient) -> None:
    admin = _admin(env, "boss@contoso.example", "Global Administrator")
    for unknown in ("00000000-0000-0000-0000-000000000000", "nope", "%00"):
        missing = admin.get(f"/admin/approvals/{unknown}")
        assert missing.status_code == 404 and "No such request" in missing.text
    settings = admin.get("/admin/policy/dual-control")
    assert settings.status_code == 200
    token = csrf_of(settings.text)
    for fields, message in (
        ({"enabled": "yes", "expiry": "ten", "collect": "480"}, "whole numbers"),
        ({"enabled": "yes", "expiry": "1", "collect": "480"}, "requestExpiryMinutes must be between"),
        ({"enabled": "yes", "expiry": "60", "collect": "480"}, "applies to nobody"),
    ):
        refused = admin.post("/admin/policy/dual-control", data={"csrf_token": token, **fields})
        assert refused.status_code == 400 and message in refused.text
    saved = admin.post(
        "/admin/policy/dual-control",
        data={"csrf_token": token, "enabled": "yes", "role_holders": "yes", "expiry": "60", "collect": "30"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with env.db.transaction("read") as tx:
        current, _ = ApprovalService(tx, env, operator()).settings()
    assert (current.enabled, current.request_expiry_minutes, current.collect_within_minutes) == (True, 60, 30)


def test_a_paa_reads_but_cannot_change_dual_control(env: Env, web: TestClient) -> None:
    megan = _admin(env, "megan@contoso.example", PAA)
    page = megan.get("/admin/policy/dual-control")
    assert page.status_code == 200 and "Save dual control" not in page.text
    refused = megan.post(
        "/admin/policy/dual-control", data={"csrf_token": csrf_of(page.text), "expiry": "60", "collect": "30"}
    )
    assert refused.status_code == 403 and "Insufficient privileges" in refused.text
