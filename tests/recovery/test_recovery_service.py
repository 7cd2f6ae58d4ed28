"""Self-service recovery's rules through its service, on SQLite and PostgreSQL: who is asked, what is
mailed to whom, one open request, rate limits, single-use decisions, the manager's passkey, the helpdesk's
tiers, and that no secret reaches the audit log."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from passbridge.clock import ManualClock
from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import InvalidInput, PermissionDenied
from passbridge.passes.rules import Purpose
from passbridge.recovery import rules, service
from passbridge.recovery.rules import RateLimited, State
from passbridge.recovery.service import Facts, NeedsPasskey
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import AuditEntry, RecoveryRequest, TemporaryAccessPass, User
from tests.recovery.conftest import (
    ADA,
    ADA_PRIVATE,
    GRACE,
    add_person,
    recovery_mail,
    session_of,
)

LINK = re.compile(r"http://localhost:8000/recover/review/([A-Za-z0-9_-]+)")
PASS = re.compile(r"Temporary Access Pass:\s+([A-Za-z0-9]+(?: [A-Za-z0-9]+)*)")


def _requests(env: Env) -> list[RecoveryRequest]:
    with env.db.transaction("read") as tx:
        return list(tx.session.scalars(select(RecoveryRequest).order_by(RecoveryRequest.created_at)))


def _link(env: Env) -> str:
    [review] = [m for m in recovery_mail(env) if m.kind == "recovery-review"]
    found = LINK.search(review.text)
    assert found is not None and found.group(0) in review.html
    return found.group(1)


def _approve(
    env: Env, token: str, who: User, *, acr: str = "phishing-resistant-mfa", approve: bool = True
) -> Facts:
    view, _ = session_of(env, who, acr=acr)
    with env.db.transaction() as tx:
        return service.decide_by_link(tx, env, token, view, approve=approve, ip="192.0.2.9")


def _pass_of(env: Env, user: User) -> TemporaryAccessPass | None:
    with env.db.transaction("read") as tx:
        return tx.session.scalars(
            select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == user.id)
        ).first()


def test_a_request_mails_the_manager_a_link_and_tells_the_person_at_work_and_at_home(
    env: Env, people: tuple[User, User]
) -> None:
    ada, grace = people
    service.request(env, " ADA@contoso.example ", ip="192.0.2.1")
    [row] = _requests(env)
    assert (row.user_id, row.state, row.route, row.manager_id) == (ada.id, "open", "manager", grace.id)
    assert row.expires_at - row.created_at == timedelta(hours=24)
    sent = {(m.kind, m.to) for m in recovery_mail(env)}
    assert sent == {
        ("recovery-requested", ADA),
        ("recovery-requested", ADA_PRIVATE),
        ("recovery-review", GRACE),
    }
    notice = next(m for m in recovery_mail(env) if m.to == ADA_PRIVATE)
    assert "Someone asked on the sign-in page" in notice.text and "If this wasn't you" in notice.text
    assert "192.0.2.1" in notice.text and "Grace Hopper" in notice.text
    token = _link(env)
    # Only the link's keyed hash is stored.
    assert row.link_hash == env.keeper.keyed_hash(token) and token not in row.link_hash


def test_an_unknown_name_leaves_no_trace_and_mails_nothing(env: Env, people: tuple[User, User]) -> None:
    service.request(env, "nobody@contoso.example", ip="192.0.2.1")
    assert _requests(env) == []
    assert recovery_mail(env) == []


def test_a_disabled_account_gets_no_request_and_no_mail(env: Env, people: tuple[User, User]) -> None:
    _, grace = people
    add_person(
        env, "off@contoso.example", "Off Line", private="off@example.org", manager=grace.id, enabled=False
    )
    service.request(env, "off@contoso.example", ip=None)
    assert _requests(env) == [] and recovery_mail(env) == []


@pytest.mark.parametrize(
    ("private", "with_manager", "why"),
    [
        (None, True, "HR gave no private mail address"),
        ("solo@example.org", False, "no manager with a mail address"),
    ],
)
def test_without_a_private_address_or_a_manager_only_the_helpdesk_is_asked_and_told_why(
    env: Env, people: tuple[User, User], private: str | None, with_manager: bool, why: str
) -> None:
    env.settings.mail_helpdesk = "helpdesk@contoso.example"
    _, grace = people
    add_person(
        env, "solo@contoso.example", "Solo", private=private, manager=grace.id if with_manager else None
    )
    service.request(env, "solo@contoso.example", ip="192.0.2.1")
    [row] = _requests(env)
    assert (row.route, row.manager_id, row.link_hash) == ("helpdesk", None, None)
    assert row.route_reason is not None and why in row.route_reason
    kinds = [m.kind for m in recovery_mail(env)]
    assert "recovery-review" not in kinds
    [helpdesk] = [m for m in recovery_mail(env) if m.kind == "recovery-helpdesk"]
    assert helpdesk.to == "helpdesk@contoso.example" and why in helpdesk.text
    assert "http://localhost:8000/admin/recovery" in helpdesk.text


def test_a_person_has_at_most_one_open_request_until_it_ends(
    env: Env, clock: ManualClock, people: tuple[User, User]
) -> None:
    service.request(env, ADA, ip="192.0.2.1")
    mailed = len(recovery_mail(env))
    service.request(env, ADA, ip="192.0.2.2")
    assert len(_requests(env)) == 1 and len(recovery_mail(env)) == mailed
    clock.advance(seconds=rules.REQUEST_LIFETIME.total_seconds() + 1)
    service.request(env, ADA, ip="192.0.2.3")
    states = [r.state for r in _requests(env)]
    assert states == ["expired", "open"]


def test_requests_are_limited_per_name_known_or_not_and_per_source(
    env: Env, clock: ManualClock, people: tuple[User, User]
) -> None:
    for name in (ADA, "nobody@contoso.example"):
        for index in range(rules.PER_NAME.requests):
            service.request(env, name, ip=f"198.51.100.{index}")
        with pytest.raises(RateLimited):
            service.request(env, name.upper(), ip="198.51.100.200")
    for index in range(rules.PER_SOURCE.requests - 1):  # one went from .0 above: a different source
        service.request(env, f"walker{index}@contoso.example", ip="203.0.113.7")
    service.request(env, "walker-last@contoso.example", ip="203.0.113.7")
    with pytest.raises(RateLimited):
        service.request(env, "another@contoso.example", ip="203.0.113.7")
    clock.advance(seconds=rules.PER_SOURCE.window.total_seconds())
    service.request(env, "another@contoso.example", ip="203.0.113.7")
    service.request(env, "nobody@contoso.example", ip="198.51.100.201")


def test_a_refused_request_spends_nothing_on_the_other_limit(env: Env, people: tuple[User, User]) -> None:
    for index in range(rules.PER_NAME.requests):
        service.request(env, "x@contoso.example", ip=f"198.51.100.{index}")
    for _ in range(rules.PER_SOURCE.requests + 5):
        with pytest.raises(RateLimited):
            service.request(env, "x@contoso.example", ip="203.0.113.50")
    # Refused by the name's limit, the source's count did not move.
    service.request(env, ADA, ip="203.0.113.50")


def test_the_manager_approves_once_and_the_recover_pass_goes_only_to_the_private_address(
    env: Env, people: tuple[User, User]
) -> None:
    ada, grace = people
    service.request(env, ADA, ip="192.0.2.1")
    token = _link(env)
    facts = _approve(env, token, grace)
    assert facts.state is State.APPROVED and facts.decided_by == "Grace Hopper" and facts.just_decided
    issued = _pass_of(env, ada)
    assert issued is not None
    assert issued.purpose == Purpose.RECOVER.value and issued.is_usable_once
    assert issued.created_by_name == "Self-service recovery"
    assert issued.reason == "Self-service recovery approved by Grace Hopper (manager)"
    [carrier] = [m for m in recovery_mail(env) if m.kind == "recovery-pass"]
    assert carrier.to == ADA_PRIVATE
    found = PASS.search(carrier.text)
    assert found is not None
    value = found.group(1).replace(" ", "")
    assert env.keeper.slow_hash_matches(value, issued.secret_hash)
    # Only that mail holds it.
    assert [m.kind for m in recovery_mail(env) if value in m.text.replace(" ", "") or value in m.html] == [
        "recovery-pass"
    ]
    [approved] = [m for m in recovery_mail(env) if m.kind == "recovery-approved"]
    assert approved.to == ADA and "a***@example.org" in approved.text and "Grace Hopper" in approved.text
    # Approving twice does nothing more: no second pass, no more mail.
    mailed = len(recovery_mail(env))
    again = _approve(env, token, grace)
    assert again.state is State.APPROVED and not again.just_decided
    assert _pass_of(env, ada).id == issued.id  # type: ignore[union-attr]
    assert len(recovery_mail(env)) == mailed


def test_a_link_stops_working_when_the_request_ends(
    env: Env, clock: ManualClock, people: tuple[User, User]
) -> None:
    ada, grace = people
    service.request(env, ADA, ip=None)
    token = _link(env)
    clock.advance(seconds=rules.REQUEST_LIFETIME.total_seconds())
    assert _approve(env, token, grace).state is State.EXPIRED
    assert _pass_of(env, ada) is None


def test_a_manager_signed_in_with_a_pass_must_sign_in_with_a_passkey(
    env: Env, people: tuple[User, User]
) -> None:
    ada, grace = people
    service.request(env, ADA, ip=None)
    with pytest.raises(NeedsPasskey):
        _approve(env, _link(env), grace, acr="mfa")
    assert _pass_of(env, ada) is None


def test_only_the_manager_the_link_went_to_may_use_it(env: Env, people: tuple[User, User]) -> None:
    ada, grace = people
    mallory = add_person(env, "mallory@contoso.example", "Mallory")
    service.request(env, ADA, ip=None)
    token = _link(env)
    with pytest.raises(PermissionDenied, match="Sign in as the manager"):
        _approve(env, token, mallory)
    with pytest.raises(PermissionDenied):
        _approve(env, token, ada)
    # A manager who changed since the mail no longer decides.
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).set_manager(ada.id, mallory.id)
    with pytest.raises(PermissionDenied, match="no longer"):
        _approve(env, token, grace)
    assert _pass_of(env, ada) is None


def test_a_denial_tells_the_person_and_issues_nothing(env: Env, people: tuple[User, User]) -> None:
    ada, grace = people
    service.request(env, ADA, ip=None)
    assert _approve(env, _link(env), grace, approve=False).state is State.DENIED
    denied = [m for m in recovery_mail(env) if m.kind == "recovery-denied"]
    assert {m.to for m in denied} == {ADA, ADA_PRIVATE}
    assert all("Grace Hopper denied it" in m.text for m in denied)
    assert _pass_of(env, ada) is None


def _admin(user: User, *roles: str) -> Principal:
    from passbridge.directory.rules import Role

    return Principal(
        kind="user", id=user.id, display_name=user.display_name, roles=frozenset(Role(r) for r in roles)
    )


def test_the_helpdesk_decides_only_for_people_they_may_issue_passes_for(
    env: Env, people: tuple[User, User]
) -> None:
    from passbridge.directory.rules import Role

    ada, grace = people
    boss = add_person(
        env,
        "boss@contoso.example",
        "Boss",
        private="boss@example.org",
        manager=grace.id,
        roles=(Role.USER_ADMINISTRATOR.value,),
    )
    desk = add_person(env, "desk@contoso.example", "Desk", roles=(Role.AUTHENTICATION_ADMINISTRATOR.value,))
    auth_admin = _admin(desk, Role.AUTHENTICATION_ADMINISTRATOR.value)
    service.request(env, ADA, ip=None)
    service.request(env, "boss@contoso.example", ip=None)
    with env.db.transaction("read") as tx:
        shown = [f.user_principal_name for f in service.queue(tx, env, auth_admin)]
        everyone = {f.user_principal_name for f in service.queue(tx, env, operator())}
    assert shown == [ADA] and everyone == {ADA, "boss@contoso.example"}
    boss_request = next(r for r in _requests(env) if r.user_id == boss.id)
    with env.db.transaction() as tx, pytest.raises(PermissionDenied):
        service.decide_by_helpdesk(tx, env, auth_admin, boss_request.id, approve=True)
    with env.db.transaction("read") as tx, pytest.raises(PermissionDenied):
        service.queue(tx, env, _admin(ada))  # no administrator role at all
    ada_request = next(r for r in _requests(env) if r.user_id == ada.id)
    with env.db.transaction() as tx:
        facts = service.decide_by_helpdesk(tx, env, auth_admin, ada_request.id, approve=True)
    assert facts.state is State.APPROVED
    issued = _pass_of(env, ada)
    assert issued is not None and issued.reason == "Self-service recovery approved by Desk (helpdesk)"


def test_without_a_private_address_the_helpdesk_cannot_approve_only_deny(
    env: Env, people: tuple[User, User]
) -> None:
    add_person(env, "solo@contoso.example", "Solo")
    service.request(env, "solo@contoso.example", ip=None)
    [row] = _requests(env)
    with env.db.transaction() as tx, pytest.raises(InvalidInput, match="no private mail address"):
        service.decide_by_helpdesk(tx, env, operator(), row.id, approve=True)
    with env.db.transaction() as tx:
        assert service.decide_by_helpdesk(tx, env, operator(), row.id, approve=False).state is State.DENIED


def test_every_step_is_audited_and_no_entry_holds_the_pass_or_the_link(
    env: Env, people: tuple[User, User]
) -> None:
    _, grace = people
    service.request(env, ADA, ip="192.0.2.1")
    token = _link(env)
    service.request(env, ADA, ip="192.0.2.1")  # a second while one is open
    _approve(env, token, grace)
    [carrier] = [m for m in recovery_mail(env) if m.kind == "recovery-pass"]
    found = PASS.search(carrier.text)
    assert found is not None
    value = found.group(1).replace(" ", "")
    with env.db.transaction("read") as tx:
        entries = list(tx.session.scalars(select(AuditEntry).order_by(AuditEntry.activity_date_time)))
    activities = [
        (e.activity_display_name, e.result) for e in entries if e.logged_by_service == service.SERVICE
    ]
    assert activities == [
        ("Request self-service recovery", "success"),
        ("Request self-service recovery", "failure"),
        ("Approve self-service recovery", "success"),
    ]
    approve_entry = next(e for e in entries if e.activity_display_name == "Approve self-service recovery")
    assert approve_entry.initiated_by["user"]["userPrincipalName"] == GRACE
    issued_entry = next(
        e
        for e in entries
        if e.activity_display_name == "Admin registered security info"
        and e.target_resources[0]["userPrincipalName"] == ADA
    )
    assert {"key": "reason", "value": "Self-service recovery approved by Grace Hopper (manager)"} in (
        issued_entry.additional_details
    )
    for entry in entries:
        dumped = repr(
            (entry.result_reason, entry.initiated_by, entry.target_resources, entry.additional_details)
        )
        assert value not in dumped.replace(" ", "") and token not in dumped


def test_a_username_must_be_something_a_name_can_be() -> None:
    for bad, message in (("", "Enter your username"), ("x" * 257, "too long"), ("a\x00b", "characters")):
        with pytest.raises(InvalidInput, match=message):
            rules.check_username(bad)
    assert rules.check_username("  ada@contoso.example ") == "ada@contoso.example"


def test_the_database_holds_one_open_request_per_person(env: Env, people: tuple[User, User]) -> None:
    from sqlalchemy.exc import IntegrityError

    ada, _ = people
    now = env.clock.now()

    def row(state: str) -> RecoveryRequest:
        return RecoveryRequest(
            id=str(uuid.uuid4()),
            user_id=ada.id,
            state=state,
            created_at=now,
            expires_at=now + rules.REQUEST_LIFETIME,
            route="helpdesk",
        )

    with env.db.transaction() as tx:
        tx.session.add_all([row("open"), row("denied"), row("expired")])
    with pytest.raises(IntegrityError), env.db.transaction() as tx:
        tx.session.add(row("open"))
        tx.session.flush()


def test_concurrent_requests_count_exactly_to_the_limit_and_open_one_request(
    env: Env, people: tuple[User, User]
) -> None:
    outcomes: list[str] = []

    def ask(index: int) -> None:
        try:
            service.request(env, ADA, ip=f"198.51.100.{index}")
            outcomes.append("asked")
        except RateLimited:
            outcomes.append("limited")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["asked"] * rules.PER_NAME.requests + ["limited"] * (
        12 - rules.PER_NAME.requests
    )
    assert [r.state for r in _requests(env)] == ["open"]
    assert len([m for m in recovery_mail(env) if m.kind == "recovery-review"]) == 1


def test_stale_rate_limit_counters_are_purged_along_the_way(
    env: Env, clock: ManualClock, people: tuple[User, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    from passbridge.store.models import RecoveryLimit

    service.request(env, "old@contoso.example", ip="198.51.100.1")
    clock.advance(seconds=rules.LIMITS_KEPT.total_seconds() + 1)
    monkeypatch.setattr(service, "PURGE_EVERY", 1)
    service.request(env, "new@contoso.example", ip="198.51.100.2")
    with env.db.transaction("read") as tx:
        keys = sorted(tx.session.scalars(select(RecoveryLimit.key)))
    assert keys == ["name:new@contoso.example", "source:198.51.100.2"]


def test_under_dual_control_a_role_holders_recovery_is_approved_by_the_helpdesk_not_the_manager(
    env: Env, people: tuple[User, User]
) -> None:
    """Dual control asks a second administrator for a role holder's pass: the person asking plus an
    administrator approving is that; a manager who is no administrator is not."""
    from passbridge.directory.rules import Role
    from passbridge.passes import approval_queries
    from passbridge.passes.approval_rules import ApprovalSettings

    _, grace = people
    with env.db.transaction() as tx:
        approval_queries.save_settings(tx, ApprovalSettings(enabled=True), env.clock.now())
    boss = add_person(
        env,
        "boss@contoso.example",
        "Boss",
        private="boss@example.org",
        manager=grace.id,
        roles=(Role.USER_ADMINISTRATOR.value,),
    )
    service.request(env, "boss@contoso.example", ip=None)
    with pytest.raises(PermissionDenied, match="helpdesk decides this recovery"):
        _approve(env, _link(env), grace)
    assert _pass_of(env, boss) is None
    [request] = [r for r in _requests(env) if r.user_id == boss.id]
    assert request.state == State.OPEN.value
    desk = add_person(env, "desk@contoso.example", "Desk", roles=(Role.GLOBAL_ADMINISTRATOR.value,))
    with env.db.transaction() as tx:
        facts = service.decide_by_helpdesk(
            tx, env, _admin(desk, Role.GLOBAL_ADMINISTRATOR.value), request.id, approve=True
        )
    assert facts.state is State.APPROVED
    issued = _pass_of(env, boss)
    assert issued is not None and issued.purpose == Purpose.RECOVER.value


def test_a_global_reader_sees_every_request_and_decides_none(env: Env, people: tuple[User, User]) -> None:
    from passbridge.directory.rules import Role

    ada, _ = people
    reader_user = add_person(env, "reader@contoso.example", "Reader", roles=(Role.GLOBAL_READER.value,))
    reader = _admin(reader_user, Role.GLOBAL_READER.value)
    service.request(env, ADA, ip=None)
    with env.db.transaction("read") as tx:
        assert [f.user_principal_name for f in service.queue(tx, env, reader)] == [ADA]
    [request] = _requests(env)
    with env.db.transaction() as tx, pytest.raises(PermissionDenied):
        service.decide_by_helpdesk(tx, env, reader, request.id, approve=True)
    assert _pass_of(env, ada) is None
