"""Several senders on one PostgreSQL (each its own connection pool, as separate processes or nodes have)
against one SMTP server: every message is delivered exactly once (SKIP LOCKED claims)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from passbridge.clock import ManualClock
from passbridge.mail.outbox import Mail, enqueue
from passbridge.mail.sender import Report, send_due
from passbridge.services.context import Env
from tests.mail.conftest import env_sending_to
from tests.smtp import smtp_server

MESSAGES = 60
SENDERS = 6


def test_several_senders_never_send_one_mail_twice(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED claims are PostgreSQL's; SQLite has one writer at a time")
    with smtp_server() as server:
        envs = [env_sending_to(database_url, tmp_path, clock, server.url) for _ in range(SENDERS)]
        try:
            with envs[0].db.transaction() as tx:
                for n in range(MESSAGES):
                    enqueue(
                        tx, envs[0], Mail(f"user{n}@contoso.example", f"Message {n}", "t", "<p>h</p>", "test")
                    )
            reports: list[Report] = []
            start = threading.Barrier(SENDERS)

            def sender(env: Env) -> None:
                start.wait()
                reports.append(send_due(env))

            threads = [threading.Thread(target=sender, args=(env,)) for env in envs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            received = server.inbox.wait_for(MESSAGES)
            assert sum(r.sent for r in reports) == MESSAGES
            assert len(received) == MESSAGES == server.inbox.offered
            assert len({m["Message-ID"] for m in received}) == MESSAGES
            # The work was shared, not done by one sender while the others waited.
            assert sum(1 for r in reports if r.sent) > 1
        finally:
            for env in envs:
                env.db.dispose()
