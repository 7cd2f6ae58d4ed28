"""`passbridge tap approval show|set` and `passbridge tap request list|approve|deny|cancel|collect`:
dual control for issuing passes (docs/dual-control.md). The operator is one identity of its own: it may
approve an administrator's request, and its own requests need an administrator's approval."""

from __future__ import annotations

from typing import Any

import click

from passbridge.cli.base import emit, json_option, unit
from passbridge.cli.taps import tap
from passbridge.clock import iso_z
from passbridge.graph.approvals import request_json
from passbridge.graph.shapes import tap_json
from passbridge.passes.approval import ApprovalService, expire_due
from passbridge.passes.approval_rules import (
    COLLECT_MAX,
    COLLECT_MIN,
    EXPIRY_MAX,
    EXPIRY_MIN,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    ApprovalSettings,
    RequestView,
    state_of,
)


def _settings_json(value: ApprovalSettings) -> dict[str, Any]:
    return {
        "isEnabled": value.enabled,
        "forRoleHolders": value.for_role_holders,
        "lifetimeThresholdMinutes": value.lifetime_threshold_minutes,
        "requestExpiryMinutes": value.request_expiry_minutes,
        "collectWithinMinutes": value.collect_within_minutes,
    }


def _describe(data: dict[str, Any]) -> None:
    click.echo(f"Dual control for passes: {'on' if data['isEnabled'] else 'off'}")
    click.echo(f"  role holders need approval: {'yes' if data['forRoleHolders'] else 'no'}")
    threshold = data["lifetimeThresholdMinutes"]
    click.echo(
        f"  lifetimes above {threshold} minutes need approval" if threshold else "  no lifetime threshold"
    )
    click.echo(f"  a pending request expires after {data['requestExpiryMinutes']} minutes")
    click.echo(f"  an approved request must be collected within {data['collectWithinMinutes']} minutes")


@tap.group("approval")
def approval() -> None:
    """Dual control's settings: which passes need a second administrator's approval."""


@approval.command("show")
@json_option
def approval_show(as_json: bool) -> None:
    """The settings."""
    with unit(readonly=True) as (tx, env, who):
        data = _settings_json(ApprovalService(tx, env, who).settings()[0])
    emit(data, as_json=as_json, human=lambda: _describe(data))


@approval.command("set")
@click.option("--enable/--disable", default=None, help="Switch dual control on or off.")
@click.option("--role-holders/--no-role-holders", default=None, help="Whether role holders' passes need it.")
@click.option(
    "--threshold",
    type=click.IntRange(THRESHOLD_MIN, THRESHOLD_MAX),
    default=None,
    metavar="MIN",
    help="Passes lasting longer than this many minutes need approval.",
)
@click.option("--no-threshold", is_flag=True, help="No lifetime threshold.")
@click.option(
    "--expiry",
    type=click.IntRange(EXPIRY_MIN, EXPIRY_MAX),
    default=None,
    metavar="MIN",
    help="Minutes a pending request waits for a decision.",
)
@click.option(
    "--collect-within",
    type=click.IntRange(COLLECT_MIN, COLLECT_MAX),
    default=None,
    metavar="MIN",
    help="Minutes the requester has to collect an approved pass.",
)
@json_option
def approval_set(
    enable: bool | None,
    role_holders: bool | None,
    threshold: int | None,
    no_threshold: bool,
    expiry: int | None,
    collect_within: int | None,
    as_json: bool,
) -> None:
    """Change the settings; what is not given stays."""
    if threshold is not None and no_threshold:
        raise click.UsageError("give --threshold or --no-threshold, not both")
    changes: dict[str, object] = {}
    for name, value in (
        ("enabled", enable),
        ("for_role_holders", role_holders),
        ("lifetime_threshold_minutes", threshold),
        ("request_expiry_minutes", expiry),
        ("collect_within_minutes", collect_within),
    ):
        if value is not None:
            changes[name] = value
    if no_threshold:
        changes["lifetime_threshold_minutes"] = None
    with unit() as (tx, env, who):
        data = _settings_json(ApprovalService(tx, env, who).set_settings(**changes))
    emit(data, as_json=as_json, human=lambda: _describe(data))


def _line(view: RequestView) -> str:
    once = ", one-time" if view.is_usable_once else ""
    return (
        f"{view.id}  {view.state.value:<9}  for {view.user_principal_name}  by {view.requester_name}  "
        f"{view.lifetime_minutes} min{once}  asked {iso_z(view.created_at)}"
    )


def _sweep() -> None:
    # Its own unit: the expiry's audit entry stays even when the action that follows is refused.
    with unit() as (tx, env, _):
        expire_due(tx, env)


@tap.group("request")
def request() -> None:
    """Pass requests awaiting (or past) a second administrator's approval."""


@request.command("list")
@click.option("--state", metavar="STATE", help="Only requests in this state (pending, approved, ...).")
@json_option
def request_list(state: str | None, as_json: bool) -> None:
    """Requests, newest first."""
    wanted = state_of(state)
    with unit(readonly=True) as (tx, env, who):
        views = ApprovalService(tx, env, who).list(wanted)
        data = [request_json(v) for v in views]

    def human() -> None:
        if not views:
            click.echo("No pass requests.")
        for view in views:
            click.echo(_line(view))
            click.echo(f"    why: {view.why}" + (f"; reason: {view.reason}" if view.reason else ""))

    emit(data, as_json=as_json, human=human)


def _decided(view: RequestView, as_json: bool) -> None:
    emit(request_json(view), as_json=as_json, human=lambda: click.echo(_line(view)))


@request.command("approve")
@click.argument("request_id")
@click.option("--note", metavar="TEXT", help="A note for the requester and the audit log.")
@json_option
def request_approve(request_id: str, note: str | None, as_json: bool) -> None:
    """Approve a pending request (someone else's: the operator's own need an administrator)."""
    _sweep()
    with unit() as (tx, env, who):
        view = ApprovalService(tx, env, who).approve(request_id, note)
    _decided(view, as_json)


@request.command("deny")
@click.argument("request_id")
@click.option("--note", metavar="TEXT", help="A note for the requester and the audit log.")
@json_option
def request_deny(request_id: str, note: str | None, as_json: bool) -> None:
    """Deny a pending request; it is final."""
    _sweep()
    with unit() as (tx, env, who):
        view = ApprovalService(tx, env, who).deny(request_id, note)
    _decided(view, as_json)


@request.command("cancel")
@click.argument("request_id")
@json_option
def request_cancel(request_id: str, as_json: bool) -> None:
    """Cancel one of the operator's own requests."""
    _sweep()
    with unit() as (tx, env, who):
        view = ApprovalService(tx, env, who).cancel(request_id)
    _decided(view, as_json)


@request.command("collect")
@click.argument("request_id")
@json_option
def request_collect(request_id: str, as_json: bool) -> None:
    """Create the pass of one of the operator's own approved requests; prints it once."""
    _sweep()
    with unit() as (tx, env, who):
        issued, view = ApprovalService(tx, env, who).collect(request_id)
        data = tap_json(issued.view, value=issued.value)

    def human() -> None:
        click.echo(f"Temporary Access Pass for {view.user_principal_name}: {data['temporaryAccessPass']}")
        click.echo(f"  approved by {view.approver_name}; {data['lifetimeInMinutes']} minutes")
        click.echo("  Hand it over now: it is not shown again.")

    emit(data, as_json=as_json, human=human)
