"""`passbridge mail list|retry|send`: the outbox (passbridge/mail)."""

from __future__ import annotations

import click

from passbridge.cli.base import emit, fail, json_option, load_env, root, unit
from passbridge.clock import iso_z
from passbridge.mail import outbox
from passbridge.mail.queries import Listed
from passbridge.mail.rules import State
from passbridge.mail.sender import send_due


def _json(m: Listed) -> dict[str, object]:
    return {
        "id": m.id,
        "kind": m.kind,
        "to": m.to_address,
        "subject": m.subject,
        "state": m.state,
        "attempts": m.attempts,
        "createdDateTime": iso_z(m.created_at),
        "nextAttemptDateTime": iso_z(m.next_attempt_at) if m.state == State.PENDING else None,
        "sentDateTime": iso_z(m.sent_at),
        "lastError": m.last_error,
    }


@root.group()
def mail() -> None:
    """The mail outbox: what was sent, what waits, what failed."""


@mail.command("list")
@click.option("--state", type=click.Choice([s.value for s in State]), help="Only messages in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@json_option
def mail_list(state: str | None, limit: int, as_json: bool) -> None:
    """List the outbox, newest first (never the bodies)."""
    with unit(readonly=True) as (tx, _env, who):
        found = outbox.list_messages(tx, who, state=State(state) if state else None, limit=limit)
    data = [_json(m) for m in found]

    def human() -> None:
        if not data:
            click.echo("No mail" + (f" is {state}." if state else " in the outbox."))
            return
        for m in data:
            click.echo(
                f"{m['id']}  {m['state']:<7}  {m['attempts']} attempt(s)  {m['createdDateTime']}  {m['to']}"
            )
            click.echo(f"    {m['kind']}: {m['subject']}")
            if m["lastError"]:
                click.echo(f"    last error: {m['lastError']}")

    emit(data, as_json=as_json, human=human)


@mail.command("retry")
@click.argument("message_id", metavar="ID")
def mail_retry(message_id: str) -> None:
    """Send a failed message again (one more attempt, now or at the next sender pass)."""
    with unit() as (tx, env, who):
        outbox.retry(tx, env, who, message_id)
    click.echo(f"Mail {message_id} will be sent again.")


@mail.command("send")
def mail_send() -> None:
    """Send what is due, once (for cron; `passbridge serve` sends on its own while it runs)."""
    env = load_env()
    try:
        if env.settings.smtp is None:
            fail("PASSBRIDGE_SMTP_URL is not set: there is no server to send through")
        report = send_due(env)
    finally:
        env.db.dispose()
    given_up = report.failed + report.given_up_old
    click.echo(f"Sent {report.sent}; {report.retrying} to try again later; {given_up} given up.")
    if report.retrying or report.failed:
        click.echo(f"Last error: {report.errors[-1]}", err=True)
