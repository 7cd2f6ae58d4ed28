"""`passbridge mail list|retry|send`: the outbox from the shell, against a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from passbridge.config import Settings, load_settings
from passbridge.mail.outbox import Mail, enqueue
from passbridge.services.context import Env
from tests.cli.test_cli import cli
from tests.servers import TEST_PEPPER
from tests.smtp import SmtpServer, smtp_server


@pytest.fixture
def refusing() -> Iterator[SmtpServer]:
    with smtp_server(refuse_permanently=frozenset({"gone@contoso.example"})) as server:
        yield server


@pytest.fixture
def store(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> Settings:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    return cli_env


def _enqueue(settings: Settings, *to: str) -> None:
    env = Env.from_settings(load_settings(database_url=settings.effective_database_url, pepper=TEST_PEPPER))
    try:
        with env.db.transaction() as tx:
            for address in to:
                enqueue(tx, env, Mail(address, f"To {address}", "Hello", "<p>Hello</p>", "test"))
    finally:
        env.db.dispose()


def test_mail_send_list_and_retry(
    store: Settings, refusing: SmtpServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _enqueue(store, "ada@contoso.example", "gone@contoso.example")
    code, out, err = cli(capsys, "mail", "send")
    assert (code, out) == (1, "")
    assert err == "passbridge: error: PASSBRIDGE_SMTP_URL is not set: there is no server to send through\n"

    monkeypatch.setenv("PASSBRIDGE_SMTP_URL", refusing.url)
    code, out, err = cli(capsys, "mail", "send")
    assert code == 0
    assert out == "Sent 1; 0 to try again later; 1 given up.\n"
    assert len(refusing.inbox.wait_for(1)) == 1

    code, out, _ = cli(capsys, "mail", "list", "--state", "failed", "--json")
    [failed] = json.loads(out)
    assert (failed["to"], failed["state"], failed["attempts"]) == ("gone@contoso.example", "failed", 1)
    assert failed["lastError"].startswith("Refused: 550")
    assert "text" not in failed and "html" not in failed

    code, out, _ = cli(capsys, "mail", "list")
    assert code == 0 and "sent" in out and "last error: Refused: 550" in out

    assert cli(capsys, "mail", "retry", failed["id"]) == (0, f"Mail {failed['id']} will be sent again.\n", "")
    code, _, err = cli(capsys, "mail", "retry", failed["id"])
    assert code == 1
    assert err == "passbridge: error: Only a failed mail can be sent again; this one is not failed.\n"
    assert cli(capsys, "mail", "retry", "no-such-id")[2].startswith("passbridge: error: No mail with id")
    assert refusing.inbox.offered == 2


def test_mail_list_when_empty_and_a_bad_smtp_url(
    store: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli(capsys, "mail", "list", "--state", "failed") == (0, "No mail is failed.\n", "")
    monkeypatch.setenv("PASSBRIDGE_SMTP_URL", "smtp://bot:s3cret-pw@host:99999")
    code, out, err = cli(capsys, "mail", "send")
    assert (code, out) == (1, "") and "s3cret-pw" not in err and err.count("\n") == 1
    assert err.startswith("passbridge: error: invalid PASSBRIDGE_SMTP_URL: ")
