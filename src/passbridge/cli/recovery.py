"""`passbridge recovery ...`: self-service recovery requests (docs/self-service-recovery.md), decided by
the operator as the helpdesk would in the portal."""

from __future__ import annotations

from typing import Any

import click

from passbridge.cli.base import emit, json_option, root, unit
from passbridge.clock import iso_z
from passbridge.directory.rules import check_display_name
from passbridge.recovery import service
from passbridge.recovery.service import Facts
from passbridge.services.context import operator


@root.group()
def recovery() -> None:
    """ "Lost your device?" requests: list them, approve (a recover pass is mailed) or deny."""


def _json(f: Facts) -> dict[str, Any]:
    return {
        "id": f.id,
        "state": f.state.value,
        "userId": f.user_id,
        "userPrincipalName": f.user_principal_name,
        "displayName": f.display_name,
        "createdDateTime": iso_z(f.created_at),
        "expirationDateTime": iso_z(f.expires_at),
        "sourceIpAddress": f.source_ip,
        "approver": f.route.value,
        "helpdeskOnlyReason": f.route_reason,
        "manager": f.manager_name,
        "hasPrivateAddress": f.has_private_address,
        "decidedBy": f.decided_by,
        "decidedDateTime": iso_z(f.decided_at),
    }


def _line(f: Facts) -> str:
    who = f"manager {f.manager_name}" if f.manager_name else "helpdesk only"
    decided = f" by {f.decided_by}" if f.decided_by else ""
    return f"{f.id}  {f.state.value}{decided}  {iso_z(f.created_at)}  {f.user_principal_name}  ({who})"


@recovery.command("list")
@click.option("--all", "show_all", is_flag=True, help="Recent requests in every state, not only open ones.")
@json_option
def recovery_list(show_all: bool, as_json: bool) -> None:
    """Requests waiting for a decision, newest first."""
    with unit(readonly=True) as (tx, env, who):
        found = service.queue(tx, env, who, only_open=not show_all)
    data = [_json(f) for f in found]

    def human() -> None:
        if not found:
            click.echo("No recovery request is waiting." if not show_all else "No recovery requests.")
        for f in found:
            click.echo(_line(f))

    emit(data, as_json=as_json, human=human)


def _decide(request_id: str, by: str, *, approve: bool, as_json: bool) -> None:
    # Named in the pass's reason, the audit entry and the person's mail: one short line.
    by = check_display_name(by, what="--by", limit=128)
    with unit() as (tx, env, _who):
        facts = service.decide_by_helpdesk(tx, env, operator(by), request_id, approve=approve)
    emit(_json(facts), as_json=as_json, human=lambda: click.echo(_line(facts)))


by_option = click.option(
    "--by", default="Passbridge CLI", show_default=True, help="Who decided: named in the audit and the mails."
)


@recovery.command("approve")
@click.argument("request_id")
@by_option
@json_option
def recovery_approve(request_id: str, by: str, as_json: bool) -> None:
    """Approve: a one-time recover pass is mailed to the person's private address (never shown here)."""
    _decide(request_id, by, approve=True, as_json=as_json)


@recovery.command("deny")
@click.argument("request_id")
@by_option
@json_option
def recovery_deny(request_id: str, by: str, as_json: bool) -> None:
    """Deny: the person is told; no pass is issued."""
    _decide(request_id, by, approve=False, as_json=as_json)
