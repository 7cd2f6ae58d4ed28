"""Dual control for issuing passes through the Graph edge (docs/dual-control.md), with a real SMTP server: a
pass for a role holder, or above the lifetime threshold, becomes a request (no pass) and the approvers are
mailed; a second administrator approves, never the requester; the requester is mailed and collects the pass
once; denied and expired requests are final; two approvers at once make one decision and one pass; no pass
ever reaches the audit log or a mail."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.app import create_app
from passbridge.clock import ManualClock
from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import DomainError
from passbridge.mail.sender import send_due
from passbridge.passes.approval import ApprovalService
from passbridge.passes.rules import PassRequest
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import AuditEntry, OutboxMessage, PassApprovalRequest, TemporaryAccessPass, User
from passbridge.tokens.service import issue_app_token, reset_key_cache, sign_claims
from tests.factories import make_app
from tests.smtp import SmtpServer

WRITE = "UserAuthenticationMethod.ReadWrite.All"
POLICY = "/beta/passbridge/temporaryAccessPassApprovalPolicy"
REQUESTS = "/beta/passbridge/temporaryAccessPassRequests"


@dataclass
class World:
    api: TestClient
    env: Env
    megan: User  # Privileged Authentication Administrator: the requester
    lee: User  # Privileged Authentication Administrator: the approver
    juno: User  # Authentication Administrator: may not issue for role holders
    diego: User  # Groups Administrator: a role holder, the target
    pradeep: User  # no role

    def as_user(self, user: User) -> dict[str, str]:
        now = int(self.env.clock.now().timestamp())
        claims = {
            "iss": self.env.settings.base_url,
            "aud": self.env.settings.base_url,
            "sub": user.id,
            "oid": user.id,
            "scp": f"{WRITE} Policy.ReadWrite.AuthenticationMethod",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "jti": str(uuid.uuid4()),
        }
        with self.env.db.transaction("read") as tx:
            return {"Authorization": f"Bearer {sign_claims(tx, self.env, claims)}"}

    def as_app(self, *permissions: str) -> dict[str, str]:
        created = make_app(self.env, permissions=permissions)
        with self.env.db.transaction("read") as tx:
            return {
                "Authorization": f"Bearer {issue_app_token(tx, self.env, created.application).access_token}"
            }

    def ask(self, who: User, target: User, **body: Any) -> Any:
        path = f"/v1.0/users/{target.id}/authentication/temporaryAccessPassMethods"
        return self.api.post(path, json=body, headers=self.as_user(who))

    def act(self, who: User, request_id: str, verb: str, **body: Any) -> Any:
        return self.api.post(f"{REQUESTS}/{request_id}/{verb}", json=body, headers=self.as_user(who))

    def configure(self, **changes: Any) -> None:
        done = self.api.patch(
            POLICY, json=changes, headers=self.as_app("Policy.ReadWrite.AuthenticationMethod")
        )
        assert done.status_code == 204, done.text


def _person(env: Env, upn: str, name: str, *roles: str) -> User:
    with env.db.transaction() as tx:
        directory = DirectoryService(tx, env, operator())
        user = directory.add_user(upn, display_name=name, mail=upn.replace("@contoso", "@mail.contoso"))
        for role in roles:
            directory.assign_role(role, user.id)
        return user


@pytest.fixture
def world(mail_env: Env) -> Iterator[World]:
    reset_key_cache(mail_env)
    people = [
        _person(mail_env, "megan@contoso.example", "Megan Bowen", "Privileged Authentication Administrator"),
        _person(mail_env, "lee@contoso.example", "Lee Gu", "Privileged Authentication Administrator"),
        _person(mail_env, "juno@contoso.example", "Juno Reyes", "Authentication Administrator"),
        _person(mail_env, "diego@contoso.example", "Diego Siciliani", "Groups Administrator"),
        _person(mail_env, "pradeep@contoso.example", "Pradeep Gupta"),
    ]
    with TestClient(create_app(mail_env), base_url="http://localhost:8000") as api:
        w = World(api, mail_env, *people)
        w.configure(isEnabled=True)
        yield w


def _delivered(w: World, smtp: SmtpServer, count: int) -> list[EmailMessage]:
    send_due(w.env)
    return smtp.inbox.wait_for(count)


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return body.get_content()


def _passes_of(w: World, user: User) -> list[TemporaryAccessPass]:
    with w.env.db.transaction("read") as tx:
        return list(
            tx.session.scalars(select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == user.id))
        )


def _activities(w: World) -> list[str]:
    with w.env.db.transaction("read") as tx:
        return list(
            tx.session.scalars(
                select(AuditEntry.activity_display_name).order_by(AuditEntry.activity_date_time)
            )
        )


def _requested(w: World) -> str:
    asked = w.ask(w.megan, w.diego, lifetimeInMinutes=60, reason="INC-42 new phone")
    assert asked.status_code == 202, asked.text
    return str(asked.json()["id"])


def test_a_pass_for_a_role_holder_becomes_a_request_and_only_its_approvers_are_mailed(
    world: World, smtp: SmtpServer
) -> None:
    asked = world.ask(world.megan, world.diego, lifetimeInMinutes=60, reason="INC-42 new phone")
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["state"] == "pending" and body["userId"] == world.diego.id
    assert body["approvalReason"] == "the user holds an administrator role"
    assert "temporaryAccessPass" not in body
    assert asked.headers["Location"] == f"http://localhost:8000{REQUESTS}/{body['id']}"
    assert _passes_of(world, world.diego) == []
    # Lee may issue for a role holder; Juno (Authentication Administrator) may not; Megan asked; Diego is
    # the target; the tenant's first administrator has no mail address.
    mails = _delivered(world, smtp, 1)
    assert [m["To"] for m in mails] == ["lee@mail.contoso.example"]
    assert f"http://localhost:8000/admin/approvals/{body['id']}" in _text(mails[0])
    assert "Megan Bowen" in _text(mails[0]) and "INC-42 new phone" in _text(mails[0])
    assert "Pass requested, approval needed" in _activities(world)


def test_nobody_approves_their_own_request(world: World) -> None:
    request_id = _requested(world)
    refused = world.act(world.megan, request_id, "approve")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "accessDenied"
    assert (
        world.api.get(f"{REQUESTS}/{request_id}", headers=world.as_user(world.megan)).json()["state"]
        == "pending"
    )


def test_an_approver_must_be_allowed_to_issue_that_pass(world: World) -> None:
    request_id = _requested(world)
    junior = world.act(world.juno, request_id, "approve")
    assert junior.status_code == 403, junior.text
    script = world.api.post(f"{REQUESTS}/{request_id}/approve", headers=world.as_app(WRITE))
    assert script.status_code == 403 and "not by an application" in script.json()["error"]["message"]


def test_the_requester_is_mailed_the_approval_and_collects_the_pass_once(
    world: World, smtp: SmtpServer
) -> None:
    request_id = _requested(world)
    approved = world.act(world.lee, request_id, "approve", note="Checked with Diego")
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert approved.json()["decidedBy"]["displayName"] == "Lee Gu"
    mails = _delivered(world, smtp, 2)
    to_megan = [m for m in mails if m["To"] == "megan@mail.contoso.example"]
    assert len(to_megan) == 1 and "was approved" in to_megan[0]["Subject"]
    assert "Checked with Diego" in _text(to_megan[0])
    assert _passes_of(world, world.diego) == []

    stolen = world.act(world.lee, request_id, "issue")
    assert stolen.status_code == 403, stolen.text
    collected = world.act(world.megan, request_id, "issue")
    assert collected.status_code == 201, collected.text
    value = collected.json()["temporaryAccessPass"]
    assert value and collected.json()["lifetimeInMinutes"] == 60
    assert [p.id for p in _passes_of(world, world.diego)] == [collected.json()["id"]]
    again = world.act(world.megan, request_id, "issue")
    assert again.status_code == 409 and again.json()["error"]["code"] == "requestAlreadyDecided"
    shown = world.api.get(f"{REQUESTS}/{request_id}", headers=world.as_user(world.lee)).json()
    assert shown["state"] == "issued" and shown["temporaryAccessPassMethodId"] == collected.json()["id"]
    assert {"Pass request approved", "Approved pass collected", "Admin registered security info"} <= set(
        _activities(world)
    )
    _secret_nowhere(world, smtp, value)


def _secret_nowhere(w: World, smtp: SmtpServer, value: str) -> None:
    send_due(w.env)
    with w.env.db.transaction("read") as tx:
        for entry in tx.session.scalars(select(AuditEntry)):
            assert value not in repr((entry.target_resources, entry.additional_details, entry.result_reason))
        assert tx.session.scalars(select(OutboxMessage)).all()  # mail was written ...
    for message in smtp.inbox.received:  # ... and none of it carries the pass
        assert value not in message.as_string()


def test_a_denied_request_is_final(world: World, smtp: SmtpServer) -> None:
    request_id = _requested(world)
    denied = world.act(world.lee, request_id, "deny", note="Not without a ticket")
    assert denied.status_code == 200 and denied.json()["state"] == "denied"
    late = world.act(world.lee, request_id, "approve")
    assert late.status_code == 409 and late.json()["error"]["code"] == "requestAlreadyDecided"
    collect = world.act(world.megan, request_id, "issue")
    assert collect.status_code == 409
    assert _passes_of(world, world.diego) == []
    to_megan = [m for m in _delivered(world, smtp, 2) if m["To"] == "megan@mail.contoso.example"]
    assert "was denied" in to_megan[0]["Subject"] and "No pass was created" in _text(to_megan[0])


def test_a_pending_request_expires_and_cannot_be_approved(world: World, clock: ManualClock) -> None:
    world.configure(requestExpiryMinutes=60)
    request_id = _requested(world)
    clock.advance(minutes=61)
    late = world.act(world.lee, request_id, "approve")
    assert late.status_code == 409 and late.json()["error"]["code"] == "requestExpired"
    listed = world.api.get(f"{REQUESTS}?$filter=state eq 'expired'", headers=world.as_user(world.lee)).json()
    assert [r["id"] for r in listed["value"]] == [request_id]
    assert "Pass request expired" in _activities(world)


def test_an_approval_not_collected_in_time_expires(world: World, clock: ManualClock) -> None:
    world.configure(collectWithinMinutes=30)
    request_id = _requested(world)
    assert world.act(world.lee, request_id, "approve").status_code == 200
    clock.advance(minutes=31)
    late = world.act(world.megan, request_id, "issue")
    assert late.status_code == 409 and late.json()["error"]["code"] == "requestExpired"
    assert _passes_of(world, world.diego) == []


def test_a_lifetime_above_the_threshold_needs_approval_for_anyone(world: World) -> None:
    world.configure(lifetimeThresholdMinutes=120)
    within = world.ask(world.megan, world.pradeep, lifetimeInMinutes=120)
    assert within.status_code == 201 and within.json()["temporaryAccessPass"]
    above = world.ask(world.megan, world.pradeep, lifetimeInMinutes=121)
    assert above.status_code == 202, above.text
    assert "above the 120-minute threshold" in above.json()["approvalReason"]
    # Without a role, an Authentication Administrator may approve it.
    assert world.act(world.juno, above.json()["id"], "approve").status_code == 200


def test_the_requester_may_cancel_and_no_one_else(world: World) -> None:
    request_id = _requested(world)
    assert world.act(world.lee, request_id, "cancel").status_code == 403
    cancelled = world.act(world.megan, request_id, "cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert world.act(world.lee, request_id, "approve").status_code == 409


def test_unknown_request_is_404_and_a_bad_filter_400(world: World) -> None:
    for unknown in (str(uuid.uuid4()), "not-a-request"):
        missing = world.api.get(f"{REQUESTS}/{unknown}", headers=world.as_user(world.lee))
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "itemNotFound"
    long_note = world.act(world.lee, _requested(world), "approve", note="x" * 257)
    assert long_note.status_code == 400 and "at most 256" in long_note.json()["error"]["message"]
    bad = world.api.get(f"{REQUESTS}?$filter=state eq 'lost'", headers=world.as_user(world.lee))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "badRequest"
    wrong = world.api.patch(
        POLICY,
        json={"requestExpiryMinutes": 1},
        headers=world.as_app("Policy.ReadWrite.AuthenticationMethod"),
    )
    assert wrong.status_code == 400 and "requestExpiryMinutes" in wrong.json()["error"]["message"]


def test_a_privileged_authentication_administrator_cannot_switch_dual_control_off(world: World) -> None:
    # Whoever could issue alone must not be able to lift the rule that stops them.
    refused = world.api.patch(POLICY, json={"isEnabled": False}, headers=world.as_user(world.megan))
    assert refused.status_code == 403, refused.text


def _principal(w: World, user: User) -> Principal:
    from passbridge.directory.rules import Role

    with w.env.db.transaction("read") as tx:
        roles = DirectoryService(tx, w.env, operator()).roles_of(user)
    return Principal(
        kind="user",
        id=user.id,
        display_name=user.display_name,
        scopes=frozenset({WRITE}),
        roles=frozenset(Role(r) if not isinstance(r, Role) else r for r in roles),
    )


def _at_once(count: int, work: Any) -> list[object]:
    """Run `work(i)` in `count` threads released together; each result, or the DomainError it raised."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except DomainError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_approvers_at_once_make_one_decision_and_one_pass(world: World) -> None:
    with world.env.db.transaction() as tx:
        admin = DirectoryService(tx, world.env, operator()).find_user("admin@contoso.example")
    request_id = _requested(world)
    approvers = [_principal(world, world.lee), _principal(world, admin)]

    def approve(i: int) -> object:
        with world.env.db.transaction() as tx:
            return ApprovalService(tx, world.env, approvers[i]).approve(request_id)

    decided = _at_once(2, approve)
    assert sum(isinstance(r, DomainError) for r in decided) == 1, decided
    requester = _principal(world, world.megan)

    def collect(_: int) -> object:
        with world.env.db.transaction() as tx:
            return ApprovalService(tx, world.env, requester).collect(request_id)

    collected = _at_once(2, collect)
    assert sum(isinstance(r, DomainError) for r in collected) == 1, collected
    assert len(_passes_of(world, world.diego)) == 1
    with world.env.db.transaction("read") as tx:
        row = tx.session.get(PassApprovalRequest, request_id)
        assert row is not None and row.state == "issued"
        entries = tx.session.scalars(
            select(AuditEntry.activity_display_name).where(
                AuditEntry.activity_display_name.in_(["Pass request approved", "Approved pass collected"])
            )
        ).all()
    assert sorted(entries) == ["Approved pass collected", "Pass request approved"]


def test_the_issuing_service_itself_refuses_without_approval(world: World) -> None:
    # Every path that issues (bulk, the joiner workflow, the demo) plans through TapService: none bypasses it.
    from passbridge.passes.approval_gate import ApprovalRequired
    from passbridge.passes.service import TapService

    with world.env.db.transaction() as tx, pytest.raises(ApprovalRequired):
        TapService(tx, world.env, operator()).issue(world.diego.id, PassRequest(lifetime_minutes=60))
    assert _passes_of(world, world.diego) == []
