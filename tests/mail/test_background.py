"""background.py: periodic tasks run in their own threads, survive their exceptions and stop with the app;
the app's lifespan runs the mail sender when (and only when) an SMTP URL is set."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from passbridge import background
from passbridge.clock import ManualClock
from passbridge.mail.outbox import Mail, enqueue
from passbridge.services.context import Env
from tests.mail.conftest import env_sending_to
from tests.smtp import SmtpServer
from tests.web.conftest import browser


def test_a_task_that_raises_runs_again_and_stops_with_the_process(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    turns: list[int] = []
    third = threading.Event()

    def flaky(_env: Env) -> None:
        turns.append(len(turns))
        if len(turns) == 1:
            raise RuntimeError("first turn fails")
        if len(turns) == 3:
            third.set()

    tasks = background.Background(env, [background.Task("flaky", flaky, every_seconds=lambda _: 0.01)])
    tasks.start()
    try:
        assert third.wait(5)
    finally:
        tasks.stop()
    stopped_at = len(turns)
    assert "background task flaky failed" in caplog.text and "first turn fails" in caplog.text
    third.clear()
    assert not third.wait(0.1) and len(turns) == stopped_at


def test_a_task_not_wanted_here_never_starts(env: Env) -> None:
    ran = threading.Event()
    task = background.Task("off", lambda _: ran.set(), every_seconds=lambda _: 0.01, wanted=lambda _: False)
    tasks = background.Background(env, [task])
    tasks.start()
    tasks.stop()
    assert tasks.tasks == [] and not ran.is_set()


def test_the_mail_sender_runs_in_the_server_only_with_an_smtp_url(
    env: Env, database_url: str, tmp_path: Path, clock: ManualClock, smtp: SmtpServer
) -> None:
    # No SMTP URL: no sender (the joiner workflow still runs: its mail waits for `passbridge mail send`).
    assert [t.name for t in background.Background(env).tasks] == ["joiner"]
    sending = env_sending_to(database_url, tmp_path, clock, smtp.url, mail_poll_seconds=0.1)
    try:
        with sending.db.transaction() as tx:
            enqueue(tx, sending, Mail("ada@contoso.example", "Hello", "t", "<p>h</p>", "test"))
        with browser(sending):  # the app's lifespan: the sender runs while it serves
            assert smtp.inbox.wait_for(1)[0]["Subject"] == "Hello"
            with sending.db.transaction() as tx:
                enqueue(tx, sending, Mail("bob@contoso.example", "Again", "t", "<p>h</p>", "test"))
            assert smtp.inbox.wait_for(2)[1]["Subject"] == "Again"
    finally:
        sending.db.dispose()
