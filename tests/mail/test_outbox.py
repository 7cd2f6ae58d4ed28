"""The outbox and its sender against a real SMTP server (aiosmtpd): a mail exists exactly when its cause
committed, bodies are sealed and dropped once sent, refusals back off and retry until delivered or given
up, and a crashed sender's claim runs out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from passbridge.clock import ManualClock
from passbridge.domain.errors import InvalidInput, PermissionDenied
from passbridge.mail import outbox
from passbridge.mail import queries as store
from passbridge.mail.outbox import Mail, enqueue
from passbridge.mail.rules import LEASE
from passbridge.mail.sender import send_due
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import OutboxMessage
from tests.mail.conftest import env_sending_to
from tests.smtp import SmtpServer, make_tls_files, smtp_server

SECRET_LINE = "Your pass: Xy7-secret-pass-Q2"


def _mail(to: str = "ada@contoso.example", kind: str = "test") -> Mail:
    return Mail(
        to=to,
        subject="Hello from Passbridge",
        text=f"Plain body. {SECRET_LINE}",
        html=f"<p>HTML body. {SECRET_LINE}</p>",
        kind=kind,
    )


def _add(env: Env, message: Mail | None = None) -> str:
    with env.db.transaction() as tx:
        return enqueue(tx, env, message or _mail())


def _row(env: Env, message_id: str) -> OutboxMessage:
    with env.db.transaction("read") as tx:
        return tx.session.get_one(OutboxMessage, message_id)


def _advance(env: Env, **delta: float) -> None:
    clock = env.clock
    assert isinstance(clock, ManualClock)
    clock.advance(**delta)


def test_a_mail_exists_only_if_its_transaction_commits(mail_env: Env) -> None:
    with pytest.raises(RuntimeError), mail_env.db.transaction() as tx:
        enqueue(tx, mail_env, _mail())
        raise RuntimeError("the cause failed")
    with mail_env.db.transaction("read") as tx:
        assert store.listing(tx, state=None, limit=10) == []
    _add(mail_env)
    with mail_env.db.transaction("read") as tx:
        assert [m.state for m in store.listing(tx, state=None, limit=10)] == ["pending"]


def test_bodies_are_sealed_in_the_outbox_and_dropped_once_sent(mail_env: Env, smtp: SmtpServer) -> None:
    message_id = _add(mail_env)
    row = _row(mail_env, message_id)
    assert row.text_sealed and row.html_sealed
    assert "secret-pass" not in row.text_sealed and "secret-pass" not in row.html_sealed

    report = send_due(mail_env)

    assert report.sent == 1
    [received] = smtp.inbox.wait_for(1)
    assert received["To"] == "ada@contoso.example"
    assert received["From"] == "passbridge@contoso.example"
    assert received["Message-ID"] == f"<{message_id}@contoso.example>"
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None and SECRET_LINE in text.get_content()
    assert html is not None and f"<p>HTML body. {SECRET_LINE}</p>" in html.get_content()
    sent = _row(mail_env, message_id)
    assert (sent.state, sent.attempts, sent.text_sealed, sent.html_sealed) == ("sent", 1, None, None)
    assert sent.sent_at == mail_env.clock.now()
    assert send_due(mail_env).sent == 0  # never twice
    assert len(smtp.inbox.received) == 1


def test_a_sealed_body_does_not_open_in_another_row(mail_env: Env, smtp: SmtpServer) -> None:
    first, second = _add(mail_env), _add(mail_env, _mail("bob@contoso.example"))
    with mail_env.db.transaction() as tx:
        copied = tx.session.get_one(OutboxMessage, first).text_sealed
        tx.execute(update(OutboxMessage).where(OutboxMessage.id == second).values(text_sealed=copied))
    report = send_due(mail_env)
    assert report.sent == 1 and report.failed == 1
    assert _row(mail_env, second).last_error is not None
    assert [m["To"] for m in smtp.inbox.wait_for(1)] == ["ada@contoso.example"]


def test_a_refusing_server_is_retried_with_back_off_until_it_accepts(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    with smtp_server(refuse_first=3) as server:
        env = env_sending_to(database_url, tmp_path, clock, server.url)
        try:
            message_id = _add(env)
            waits = []
            for attempt in (1, 2, 3):
                report = send_due(env)
                assert (report.sent, report.retrying) == (0, 1)
                row = _row(env, message_id)
                assert (row.state, row.attempts) == ("pending", attempt)
                assert row.last_error is not None and "451" in row.last_error
                waits.append(row.next_attempt_at - clock.now())
                assert send_due(env).retrying == 0  # not due yet: nothing is tried
                clock.set(row.next_attempt_at)
            # 1, 2, 4 minutes, each within the jitter's half either way.
            for wait, minutes in zip(waits, (1, 2, 4), strict=True):
                assert timedelta(minutes=minutes) * 0.5 <= wait <= timedelta(minutes=minutes) * 1.5
            assert send_due(env).sent == 1
            assert len(server.inbox.wait_for(1)) == 1
            assert server.inbox.offered == 4
            done = _row(env, message_id)
            assert (done.state, done.attempts, done.last_error) == ("sent", 4, None)
        finally:
            env.db.dispose()


def test_a_mail_is_given_up_after_its_attempts(database_url: str, tmp_path: Path, clock: ManualClock) -> None:
    with smtp_server(refuse_first=100) as server:
        env = env_sending_to(database_url, tmp_path, clock, server.url, mail_max_attempts=3)
        try:
            message_id = _add(env)
            for _ in range(3):
                send_due(env)
                clock.set(_row(env, message_id).next_attempt_at)
            row = _row(env, message_id)
            assert (row.state, row.attempts) == ("failed", 3)
            assert send_due(env).retrying == 0
            assert server.inbox.offered == 3
            # Kept sealed while it may still be retried; the CLI and the portal can send it again.
            assert row.text_sealed is not None
        finally:
            env.db.dispose()


def test_a_permanent_refusal_fails_at_once(database_url: str, tmp_path: Path, clock: ManualClock) -> None:
    with smtp_server(refuse_permanently=frozenset({"gone@contoso.example"})) as server:
        env = env_sending_to(database_url, tmp_path, clock, server.url)
        try:
            gone = _add(env, _mail("gone@contoso.example"))
            fine = _add(env)
            report = send_due(env)
            assert (report.sent, report.failed) == (1, 1)
            row = _row(env, gone)
            assert row.state == "failed" and row.last_error is not None and "550" in row.last_error
            assert _row(env, fine).state == "sent"
        finally:
            env.db.dispose()


def test_a_mail_older_than_the_maximum_age_is_given_up_and_its_bodies_dropped(mail_env: Env) -> None:
    message_id = _add(mail_env)
    _advance(mail_env, hours=mail_env.settings.mail_max_age_hours, seconds=1)
    report = send_due(mail_env)
    assert (report.sent, report.given_up_old) == (0, 1)
    row = _row(mail_env, message_id)
    assert (row.state, row.text_sealed, row.html_sealed) == ("failed", None, None)
    assert row.last_error == "Given up: not delivered within 48 hours."
    with mail_env.db.transaction() as tx, pytest.raises(InvalidInput, match="content was dropped"):
        outbox.retry(tx, mail_env, operator(), message_id)


def test_an_unreachable_server_leaves_mail_pending(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    with smtp_server() as server:
        url = server.url
    env = env_sending_to(database_url, tmp_path, clock, url)  # nobody listens there now
    try:
        first, second = _add(env), _add(env)
        report = send_due(env)
        assert (report.sent, report.retrying) == (0, 1)
        assert report.errors[0].startswith("ConnectionRefusedError")
        assert {_row(env, first).state, _row(env, second).state} == {"pending"}
        assert {_row(env, first).attempts, _row(env, second).attempts} == {0, 1}  # the rest waited
    finally:
        env.db.dispose()


def test_a_crashed_senders_claim_runs_out_and_the_mail_goes_once(mail_env: Env, smtp: SmtpServer) -> None:
    message_id = _add(mail_env)
    with mail_env.db.transaction() as tx:  # a sender claims it and dies before sending
        now = mail_env.clock.now()
        claimed = store.claim_one(tx, now=now, lease_until=now + LEASE)
    assert claimed is not None and claimed.attempt == 1
    assert send_due(mail_env).sent == 0  # claimed: not due
    _advance(mail_env, seconds=LEASE.total_seconds() + 1)
    assert send_due(mail_env).sent == 1
    assert len(smtp.inbox.wait_for(1)) == 1
    # The dead sender's late word changes nothing: its claim (attempt 1) is not the one that sent.
    with mail_env.db.transaction() as tx:
        assert not store.mark_sent(tx, message_id, claimed.attempt, now=mail_env.clock.now())
    assert _row(mail_env, message_id).attempts == 2


def test_a_failed_mail_is_sent_again_on_retry(database_url: str, tmp_path: Path, clock: ManualClock) -> None:
    with smtp_server(refuse_first=1) as server:
        env = env_sending_to(database_url, tmp_path, clock, server.url, mail_max_attempts=1)
        try:
            message_id = _add(env)
            assert send_due(env).failed == 1
            with env.db.transaction() as tx:
                outbox.retry(tx, env, operator(), message_id)
            assert send_due(env).sent == 1
            assert len(server.inbox.wait_for(1)) == 1
            with env.db.transaction() as tx, pytest.raises(InvalidInput, match="not failed"):
                outbox.retry(tx, env, operator(), message_id)
        finally:
            env.db.dispose()


def test_login_and_starttls_and_implicit_tls_deliver(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    tls = make_tls_files(tmp_path / "tls")
    for options in (
        {"auth": ("bot@contoso.example", "p@ss:word/1")},
        {"auth": ("bot@contoso.example", "p@ss:word/1"), "starttls": tls},
        {"implicit_tls": tls},
    ):
        with smtp_server(**options) as server:  # type: ignore[arg-type]
            url = server.url.replace(
                "bot@contoso.example:p@ss:word/1@", "bot%40contoso.example:p%40ss%3Aword%2F1@"
            )
            env = env_sending_to(database_url, tmp_path, clock, url)
            try:
                _add(env)
                report = send_due(env)
                assert report.sent == 1, (options, report.errors)
                assert len(server.inbox.wait_for(1)) == 1
                assert server.inbox.logins == (["bot@contoso.example"] if "auth" in options else [])
            finally:
                env.db.dispose()


def test_a_wrong_password_is_an_error_that_never_shows_it(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    with smtp_server(auth=("bot", "right-password")) as server:
        url = server.url.replace("bot:right-password@", "bot:wrong-password-xyz@")
        env = env_sending_to(database_url, tmp_path, clock, url)
        try:
            message_id = _add(env)
            report = send_due(env)
            assert report.retrying == 1 and not server.inbox.received
            error = _row(env, message_id).last_error
            assert error is not None and "SMTPAuthenticationError" in error
            assert "wrong-password-xyz" not in error
        finally:
            env.db.dispose()


def test_only_administrators_of_passes_read_the_outbox_and_only_actors_retry(mail_env: Env) -> None:
    from passbridge.directory.rules import Role

    message_id = _add(mail_env)

    def user(*roles: Role) -> Principal:
        return Principal(kind="user", id="x", display_name="X", roles=frozenset(roles))

    with mail_env.db.transaction() as tx:
        assert len(outbox.list_messages(tx, user(Role.GLOBAL_READER))) == 1
        with pytest.raises(PermissionDenied):
            outbox.list_messages(tx, user(Role.GROUPS_ADMINISTRATOR))
        with pytest.raises(PermissionDenied):
            outbox.retry(tx, mail_env, user(Role.GLOBAL_READER), message_id)
        with pytest.raises(PermissionDenied):
            outbox.list_messages(tx, Principal(kind="application", id="a", display_name="App"))


def test_enqueue_refuses_what_is_not_a_mail(mail_env: Env) -> None:
    with mail_env.db.transaction() as tx:
        for bad in (
            _mail(to="not an address"),
            Mail("ada@contoso.example", "two\nlines", "t", "h", "k"),
            Mail("ada@contoso.example", "s", "t", "h", ""),
        ):
            with pytest.raises(InvalidInput):
                enqueue(tx, mail_env, bad)
        assert tx.scalar(select(OutboxMessage.id)) is None
