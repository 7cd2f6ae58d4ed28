"""`passbridge app ...`"""

from __future__ import annotations

import click

from passbridge.cli.base import emit, json_option, root, unit
from passbridge.directory.apps import ApplicationService
from passbridge.graph.shapes import application_json
from passbridge.signin.rules import Strength


@root.group()
def app() -> None:
    """Register applications (OAuth clients)."""


@app.command("add")
@click.argument("name")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    metavar="P",
    help="Application permission, e.g. UserAuthenticationMethod.ReadWrite.All (repeatable).",
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    metavar="URI",
    help="Redirect URI for sign-in (repeatable).",
)
@click.option(
    "--public",
    is_flag=True,
    help="A public client (browser or native app): no secret; signs users in with PKCE.",
)
@click.option(
    "--require-strength",
    type=click.Choice([s.value for s in Strength]),
    default=None,
    help="Authentication strength every sign-in to this app must reach; weaker sessions are stepped up.",
)
@json_option
def app_add(
    name: str,
    permissions: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    public: bool,
    require_strength: str | None,
    as_json: bool,
) -> None:
    """Register an application; prints its client secret once (public clients get none)."""
    with unit() as (tx, env, who):
        created = ApplicationService(tx, env, who).register(
            name,
            permissions=list(permissions),
            redirect_uris=list(redirect_uris),
            public=public,
            required_strength=Strength(require_strength) if require_strength else None,
        )
        data = application_json(created.application)
        data["clientId"] = created.application.app_id
        data["clientSecret"] = created.client_secret
        data["isPublicClient"] = public
        data["requiredStrength"] = require_strength

    def human() -> None:
        click.echo(f"Registered {data['displayName']}")
        click.echo(f"  clientId:     {data['clientId']}")
        if data["clientSecret"] is None:
            click.echo("  public client: no secret; use PKCE (code_challenge_method=S256).")
        else:
            click.echo(f"  clientSecret: {data['clientSecret']}")
            click.echo("  Store the secret now: it is not shown again.")
        if require_strength:
            click.echo(f"  sign-ins must reach: {require_strength}")
        if data["requiredPermissions"]:
            click.echo(f"  permissions:  {', '.join(data['requiredPermissions'])}")

    emit(data, as_json=as_json, human=human)


@app.command("list")
@json_option
def app_list(as_json: bool) -> None:
    """List registered applications (never their secrets)."""
    with unit(readonly=True) as (tx, env, who):
        rows = [application_json(a) for a in ApplicationService(tx, env, who).list()]

    def human() -> None:
        for row in rows:
            click.echo(f"{row['displayName']:<32} {row['appId']}  {', '.join(row['requiredPermissions'])}")

    emit({"value": rows}, as_json=as_json, human=human)
