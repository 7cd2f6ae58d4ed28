"""`passbridge provisioning token ...`: the tokens SCIM clients (HR systems, upstream directories) present."""

from __future__ import annotations

from typing import Any

import click

from passbridge.cli.base import emit, json_option, root, unit
from passbridge.clock import iso_z
from passbridge.scim.tokens import ProvisioningTokens
from passbridge.store.models import ProvisioningToken


@root.group()
def provisioning() -> None:
    """SCIM provisioning at /scim/v2 (docs/provisioning.md)."""


@provisioning.group()
def token() -> None:
    """Provisioning tokens: add (shown once), list, revoke."""


def _json(token: ProvisioningToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "createdDateTime": iso_z(token.created_at),
        "createdBy": token.created_by,
        "lastUsedDateTime": iso_z(token.last_used_at),
        "revokedDateTime": iso_z(token.revoked_at),
    }


@token.command("add")
@click.argument("name")
@json_option
def token_add(name: str, as_json: bool) -> None:
    """Make a token for a SCIM client; prints it once."""
    with unit() as (tx, env, who):
        made = ProvisioningTokens(tx, env, who).add(name)
        data = _json(made.token) | {
            "token": made.value,
            "scimUrl": env.settings.base_url.rstrip("/") + "/scim/v2",
        }

    def human() -> None:
        click.echo(f"Provisioning token '{data['name']}' ({data['id']})")
        click.echo(f"  token:    {data['token']}")
        click.echo(f"  SCIM URL: {data['scimUrl']}")
        click.echo("  Give both to the HR system now: the token is not shown again.")

    emit(data, as_json=as_json, human=human)


@token.command("list")
@json_option
def token_list(as_json: bool) -> None:
    """Every token, live and revoked, with when it was last used."""
    with unit(readonly=True) as (tx, env, who):
        data = [_json(t) for t in ProvisioningTokens(tx, env, who).list()]

    def human() -> None:
        if not data:
            click.echo("No provisioning tokens.")
        for item in data:
            state = f"revoked {item['revokedDateTime']}" if item["revokedDateTime"] else "live"
            used = item["lastUsedDateTime"] or "never"
            click.echo(f"{item['id']}  {item['name']}  {state}  last used: {used}")

    emit(data, as_json=as_json, human=human)


@token.command("revoke")
@click.argument("ref", metavar="NAME|ID")
@json_option
def token_revoke(ref: str, as_json: bool) -> None:
    """Revoke a token: SCIM calls presenting it are refused from now on."""
    with unit() as (tx, env, who):
        data = _json(ProvisioningTokens(tx, env, who).revoke(ref))

    emit(data, as_json=as_json, human=lambda: click.echo(f"Revoked provisioning token '{data['name']}'."))
