"""`passbridge strength ...`: authentication strengths, built-in and custom (methods/strength_policies.py)."""

from __future__ import annotations

import click

from passbridge.cli.base import emit, json_option, root, unit
from passbridge.graph.strengths import strength_json
from passbridge.methods.strength import MODE_DETAILS
from passbridge.methods.strength_policies import StrengthService, find

MODES_HELP = "Allowed method mode (repeatable): " + ", ".join(d.mode.value for d in MODE_DETAILS) + "."


@root.group()
def strength() -> None:
    """Authentication strengths an application can require."""


def _human(data: dict[str, object]) -> None:
    combinations = data["allowedCombinations"]
    assert isinstance(combinations, list)
    click.echo(f"{data['displayName']}  ({data['policyType']}, satisfies: {data['requirementsSatisfied']})")
    click.echo(f"  id:      {data['id']}")
    click.echo(f"  allowed: {', '.join(combinations)}")
    if data["description"]:
        click.echo(f"  {data['description']}")


@strength.command("list")
@json_option
def strength_list(as_json: bool) -> None:
    """List the built-in and custom strengths."""
    with unit(readonly=True) as (tx, env, who):
        rows = [strength_json(p) for p in StrengthService(tx, env, who).list()]

    def human() -> None:
        for row in rows:
            kind = "built-in" if row["policyType"] == "builtIn" else "custom"
            allowed = ", ".join(row["allowedCombinations"])
            click.echo(f"{row['id']}  {kind:<8}  {row['displayName']}: {allowed}")

    emit({"value": rows}, as_json=as_json, human=human)


@strength.command("add")
@click.argument("name")
@click.option("--allow", "modes", multiple=True, required=True, metavar="MODE", help=MODES_HELP)
@click.option("--description", default="", help="What the strength is for.")
@json_option
def strength_add(name: str, modes: tuple[str, ...], description: str, as_json: bool) -> None:
    """Add a custom strength that allows the given method modes."""
    with unit() as (tx, env, who):
        data = strength_json(StrengthService(tx, env, who).create(name, description, list(modes)))
    emit(data, as_json=as_json, human=lambda: _human(data))


@strength.command("update")
@click.argument("strength_ref", metavar="ID|NAME")
@click.option("--name", default=None, help="A new display name.")
@click.option("--description", default=None, help="A new description.")
@click.option("--allow", "modes", multiple=True, metavar="MODE", help=MODES_HELP + " Replaces the list.")
@json_option
def strength_update(
    strength_ref: str, name: str | None, description: str | None, modes: tuple[str, ...], as_json: bool
) -> None:
    """Change a custom strength's name, description or allowed modes."""
    if name is None and description is None and not modes:
        raise click.UsageError("give --name, --description or --allow")
    with unit() as (tx, env, who):
        service = StrengthService(tx, env, who)
        found = find(tx, strength_ref)
        policy_id = found.id if found is not None else strength_ref
        if name is not None or description is not None:
            service.update(policy_id, display_name=name, description=description)
        if modes:
            service.update_combinations(policy_id, list(modes))
        data = strength_json(service.get(policy_id))
    emit(data, as_json=as_json, human=lambda: _human(data))


@strength.command("delete")
@click.argument("strength_ref", metavar="ID|NAME")
def strength_delete(strength_ref: str) -> None:
    """Delete a custom strength (refused while an application requires it)."""
    with unit() as (tx, env, who):
        found = find(tx, strength_ref)
        StrengthService(tx, env, who).delete(found.id if found is not None else strength_ref)
        name = found.display_name if found is not None else strength_ref
    click.echo(f"Deleted {name}")
