"""The joiner workflow: a new hire's pass, mailed to their manager through a real SMTP server, once."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from passbridge.clock import ManualClock
from passbridge.directory.queries import user_by_upn
from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import InvalidInput, PermissionDenied
from passbridge.joiner.service import JoinerService, run_due
from passbridge.mail.sender import send_due
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import AuditEntry, JoinerRun, OutboxMessage, TemporaryAccessPass, User
from tests.factories import make_passkey
from tests.mail.conftest import env_sending_to
from tests.smtp import SmtpServer

PASS_IN_MAIL = re.compile(r"Temporary Access Pass:\s+([A-Za-z0-9]+(?: [A-Za-z0-9]+)*)")


@pytest.fixture
def env_with_mail(database_url: str, tmp_path: Path, clock: ManualClock, smtp: SmtpServer) -> Iterator[Env]:
    from passbridge.directory.tenant import initialise

    env = env_sending_to(database_url, tmp_path, clock, smtp.url)
    with env.db.transaction() as tx:
        initialise(tx, env, operator(), admin_upn="admin@contoso.example", tenant_name="Contoso")
        JoinerService(tx, env, operator()).set(enabled=True, days_before=1, is_usable_once=True)
    yield env
    env.db.dispose()


def _hire(
    env: Env,
    upn: str,
    *,
    days: float,
    manager: str | None = "grace@contoso.example",
    private: str | None = None,
) -> User:
    """A new hire starting `days` from now, reporting to `manager` (made, with that mail, if new)."""
    with env.db.transaction() as tx:
        directory = DirectoryService(tx, env, operator())
        if manager is not None and user_by_upn(tx, manager) is None:
            directory.add_user(manager, display_name="Grace Hopper", mail=manager)
        user = directory.add_user(
            upn,
            display_name="Ada Lovelace",
            employee_hire_date=env.clock.now() + timedelta(days=days),
            other_mails=[private] if private else None,
        )
        if manager is not None:
            directory.set_manager(user.id, manager)
        return user


def _runs(env: Env) -> dict[str, JoinerRun]:
    with env.db.transaction("read") as tx:
        return {r.user_id: r for r in tx.session.scalars(select(JoinerRun))}


def test_a_new_hires_pass_goes_to_their_manager_once_and_signs_in(
    env_with_mail: Env, smtp: SmtpServer, clock: ManualClock
) -> None:
    env = env_with_mail
    ada = _hire(env, "ada@contoso.example", days=3)
    assert run_due(env).issued == 0  # due 1 day before the hire date: not yet
    clock.advance(days=2, hours=1)
    assert run_due(env).issued == 1
    assert run_due(env).issued == 0  # once
    assert send_due(env).sent == 1
    [mail] = smtp.inbox.wait_for(1)
    assert mail["To"] == "grace@contoso.example"
    assert "Ada Lovelace's Temporary Access Pass" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = PASS_IN_MAIL.search(body)
    assert found is not None
    code = found.group(1).replace(" ", "")
    with env.db.transaction("read") as tx:
        row = tx.session.scalars(
            select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == ada.id)
        ).one()
        assert env.keeper.slow_hash_matches(code, row.secret_hash)
        assert row.is_usable_once
        # It starts one day before the hire date, which is now.
        assert row.start_at == clock.now()
        # The pass is in the mail only: the outbox dropped the body once sent, the audit has no trace.
        [sent] = tx.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "joiner")).all()
        assert sent.text_sealed is None and sent.html_sealed is None
        for entry in tx.session.scalars(select(AuditEntry)):
            assert code not in str(entry.additional_details) + entry.result_reason + str(
                entry.target_resources
            )
    assert _runs(env)[ada.id].state == "issued" and _runs(env)[ada.id].recipients == ["grace@contoso.example"]


def test_a_new_hire_who_already_has_a_method_or_no_one_to_tell_is_skipped_and_audited(
    env_with_mail: Env, clock: ManualClock
) -> None:
    env = env_with_mail
    with_passkey = _hire(env, "ada@contoso.example", days=0.5)
    make_passkey(env, with_passkey)
    nobody = _hire(env, "bob@contoso.example", days=0.5, manager=None)
    outcome = run_due(env)
    assert (outcome.issued, outcome.skipped) == (0, 2)
    runs = _runs(env)
    assert runs[with_passkey.id].reason == "they already have a passkey"
    assert runs[nobody.id].reason is not None and "no manager" in runs[nobody.id].reason
    with env.db.transaction("read") as tx:
        failures = tx.session.scalars(
            select(AuditEntry).where(AuditEntry.logged_by_service == "Lifecycle Workflows")
        ).all()
        assert {e.result for e in failures} == {"failure"}
        assert tx.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "joiner")).all() == []


def test_the_private_address_from_hr_gets_it_too_when_asked(env_with_mail: Env, smtp: SmtpServer) -> None:
    env = env_with_mail
    with env.db.transaction() as tx:
        JoinerService(tx, env, operator()).set(mail_private=True)
    _hire(env, "ada@contoso.example", days=0.5, private="ada@home.example")
    assert run_due(env).issued == 1
    assert send_due(env).sent == 2
    assert sorted(m["To"] for m in smtp.inbox.wait_for(2)) == ["ada@home.example", "grace@contoso.example"]


def test_switching_on_spares_long_standing_staff_but_a_user_added_with_a_past_hire_date_gets_theirs(
    database_url: str, tmp_path: Path, clock: ManualClock, smtp: SmtpServer
) -> None:
    from passbridge.directory.tenant import initialise

    env = env_sending_to(database_url, tmp_path, clock, smtp.url)
    try:
        with env.db.transaction() as tx:
            initialise(tx, env, operator(), admin_upn="admin@contoso.example", tenant_name="Contoso")
        veteran = _hire(env, "old@contoso.example", days=-900)
        clock.advance(minutes=1)
        with env.db.transaction() as tx:
            JoinerService(tx, env, operator()).set(enabled=True)
        clock.advance(minutes=1)
        late = _hire(env, "late@contoso.example", days=-400)
        assert run_due(env).issued == 1
        assert set(_runs(env)) == {late.id}
        assert veteran.id not in _runs(env)
    finally:
        env.db.dispose()


def test_several_processes_at_once_issue_one_pass_and_one_mail(env_with_mail: Env) -> None:
    env = env_with_mail
    ada = _hire(env, "ada@contoso.example", days=0.5)
    results: list[int] = []
    errors: list[BaseException] = []

    def turn() -> None:
        try:
            results.append(run_due(env).issued)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=turn) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sum(results) == 1
    with env.db.transaction("read") as tx:
        assert len(tx.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "joiner")).all()) == 1
    assert _runs(env)[ada.id].state == "issued"


def test_settings_are_checked_against_the_pass_policy_and_roles(env_with_mail: Env) -> None:
    env = env_with_mail
    with env.db.transaction() as tx:
        service = JoinerService(tx, env, operator())
        with pytest.raises(InvalidInput, match="between 60 and 480"):
            service.set(lifetime_minutes=10_000)
        with pytest.raises(InvalidInput, match="from 0 to 30"):
            service.set(days_before=31)
        assert service.set(lifetime_minutes=480).lifetime_minutes == 480
    reader = Principal(kind="user", id="x", display_name="Reader", roles=frozenset())
    with env.db.transaction() as tx, pytest.raises(PermissionDenied):
        JoinerService(tx, env, reader).set(enabled=False)


def test_a_pass_already_issued_by_the_helpdesk_is_never_replaced(env_with_mail: Env) -> None:
    env = env_with_mail
    ada = _hire(env, "ada@contoso.example", days=0.5)
    with env.db.transaction() as tx:
        TapService(tx, env, operator()).issue(ada.id, PassRequest())
    assert run_due(env).skipped == 1
    assert _runs(env)[ada.id].reason == "they already have a Temporary Access Pass"
