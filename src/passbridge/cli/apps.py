"""`passbridge app ...`"""

from __future__ import annotations

import click

from passbridge.cli.base import emit, json_option, root, unit
from passbridge.directory.apps import ApplicationService
from passbridge.graph.shapes import application_json
from passbridge.methods.strength_policies import find
from passbridge.store.models import Application
from passbridge.store.tx import Tx

REQUIRE_HELP = (
    "Authentication strength every sign-in to this app must satisfy, by id or name (`passbridge strength "
    "list`; mfa, passwordless-mfa, phishing-resistant-mfa name the built-in ones); others are stepped up."
)


def _strength_json(tx: Tx, app: Application) -> dict[str, str] | None:
    """The app's required strength, as id and name (a Passbridge extension of the application)."""
    if not app.required_strength:
        return None
    found = find(tx, app.required_strength)
    name = found.display_name if found is not None else "(unknown strength: sign-ins are refused)"
    return {"id": app.required_strength, "displayName": name}


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
@click.option("--require-strength", default=None, metavar="ID|NAME", help=REQUIRE_HELP)
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
            required_strength=require_strength,
        )
        data = application_json(created.application)
        data["clientId"] = created.application.app_id
        data["clientSecret"] = created.client_secret
        data["isPublicClient"] = public
        data["requiredStrength"] = _strength_json(tx, created.application)

    def human() -> None:
        click.echo(f"Registered {data['displayName']}")
        click.echo(f"  clientId:     {data['clientId']}")
        if data["clientSecret"] is None:
            click.echo("  public client: no secret; use PKCE (code_challenge_method=S256).")
        else:
            click.echo(f"  clientSecret: {data['clientSecret']}")
            click.echo("  Store the secret now: it is not shown again.")
        if data["requiredStrength"]:
            click.echo(f"  sign-ins must satisfy: {data['requiredStrength']['displayName']}")
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


@app.command("update")
@click.argument("app_id", metavar="APP_ID")
@click.option("--require-strength", default=None, metavar="ID|NAME", help=REQUIRE_HELP)
@click.option("--no-required-strength", is_flag=True, help="Let any sign-in into the app again.")
@json_option
def app_update(app_id: str, require_strength: str | None, no_required_strength: bool, as_json: bool) -> None:
    """Change what an application requires of a sign-in."""
    if (require_strength is None) == (not no_required_strength):
        raise click.UsageError("give either --require-strength or --no-required-strength")
    with unit() as (tx, env, who):
        changed = ApplicationService(tx, env, who).require_strength(app_id, require_strength)
        data = application_json(changed)
        data["requiredStrength"] = _strength_json(tx, changed)

    def human() -> None:
        required = data["requiredStrength"]
        click.echo(f"Updated {data['displayName']}")
        click.echo(f"  sign-ins must satisfy: {required['displayName'] if required else 'any sign-in'}")

    emit(data, as_json=as_json, human=human)
