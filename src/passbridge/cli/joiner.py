"""`passbridge joiner ...`: the joiner workflow (docs/joiner-workflow.md)."""

from __future__ import annotations

from typing import Any

import click

from passbridge.cli.base import emit, json_option, load_env, root, unit
from passbridge.clock import iso_z
from passbridge.joiner.rules import MAX_DAYS_BEFORE, JoinerSettings
from passbridge.joiner.service import JoinerService, run_due


@root.group()
def joiner() -> None:
    """New hires' first pass, mailed to their manager before their first day."""


def _json(value: JoinerSettings) -> dict[str, Any]:
    return {
        "isEnabled": value.enabled,
        "daysBeforeHireDate": value.days_before,
        "lifetimeInMinutes": value.lifetime_minutes,
        "isUsableOnce": value.is_usable_once,
        "mailPrivateAddress": value.mail_private,
        "enabledDateTime": iso_z(value.enabled_at),
    }


def _describe(data: dict[str, Any]) -> None:
    state = "on" if data["isEnabled"] else "off"
    click.echo(f"Joiner workflow: {state}")
    click.echo(f"  pass issued and mailed {data['daysBeforeHireDate']} day(s) before the hire date")
    lifetime = data["lifetimeInMinutes"]
    click.echo(f"  lifetime: {lifetime} minutes" if lifetime else "  lifetime: the pass policy's default")
    click.echo(f"  {'one-time' if data['isUsableOnce'] else 'multi-use'} pass")
    also = "and the private address HR gave" if data["mailPrivateAddress"] else "only"
    click.echo(f"  mailed to the manager {also}")


@joiner.command("show")
@json_option
def joiner_show(as_json: bool) -> None:
    """The workflow's settings."""
    with unit(readonly=True) as (tx, env, who):
        data = _json(JoinerService(tx, env, who).get()[0])
    emit(data, as_json=as_json, human=lambda: _describe(data))


@joiner.command("set")
@click.option("--enable/--disable", default=None, help="Switch the workflow on or off.")
@click.option(
    "--days-before",
    type=click.IntRange(0, MAX_DAYS_BEFORE),
    default=None,
    help="Days before the hire date the pass starts and is mailed.",
)
@click.option("--lifetime", type=int, default=None, metavar="MIN", help="Minutes the pass lasts.")
@click.option("--policy-lifetime", is_flag=True, help="Use the pass policy's default lifetime.")
@click.option("--one-time/--multi-use", default=None, help="Whether the pass works for one sign-in.")
@click.option(
    "--mail-private/--no-mail-private",
    default=None,
    help="Also mail the pass to the private address HR gave (otherMails).",
)
@json_option
def joiner_set(
    enable: bool | None,
    days_before: int | None,
    lifetime: int | None,
    policy_lifetime: bool,
    one_time: bool | None,
    mail_private: bool | None,
    as_json: bool,
) -> None:
    """Change the workflow's settings; what is not given stays."""
    changes: dict[str, object] = {}
    for name, value in (
        ("enabled", enable),
        ("days_before", days_before),
        ("lifetime_minutes", lifetime),
        ("is_usable_once", one_time),
        ("mail_private", mail_private),
    ):
        if value is not None:
            changes[name] = value
    if policy_lifetime:
        changes["lifetime_minutes"] = None
    with unit() as (tx, env, who):
        data = _json(JoinerService(tx, env, who).set(**changes))
    emit(data, as_json=as_json, human=lambda: _describe(data))


@joiner.command("runs")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
def joiner_runs(limit: int, as_json: bool) -> None:
    """What the workflow did for each new hire, newest first (never the pass itself)."""
    with unit(readonly=True) as (tx, env, who):
        data = [
            {
                "userPrincipalName": user.user_principal_name,
                "employeeHireDate": iso_z(user.employee_hire_date),
                "state": run.state,
                "reason": run.reason,
                "mailedTo": run.recipients,
                "processedDateTime": iso_z(run.processed_at),
            }
            for run, user in JoinerService(tx, env, who).runs(limit)
        ]

    def human() -> None:
        if not data:
            click.echo("The workflow has not run for anyone yet.")
        for item in data:
            mailed = ", ".join(str(to) for to in item["mailedTo"] or [])
            what = f"mailed to {mailed}" if item["state"] == "issued" else item["reason"]
            click.echo(f"{item['processedDateTime']}  {item['userPrincipalName']}  {item['state']}: {what}")

    emit(data, as_json=as_json, human=human)


@joiner.command("run")
def joiner_run() -> None:
    """One turn now (every `serve` process also runs one every PASSBRIDGE_JOINER_POLL_SECONDS)."""
    env = load_env()
    try:
        outcome = run_due(env)
    finally:
        env.db.dispose()
    click.echo(f"{outcome.issued} passes issued and mailed, {outcome.skipped} new hires skipped.")
