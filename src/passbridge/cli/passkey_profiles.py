"""`passbridge policy passkey-profile ...`: the Fido2 configuration's passkey profiles
(docs/passkey-profiles.md). Graph offers the same through the Fido2 configuration's passkeyProfiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from passbridge.cli.base import emit, fail, json_option, unit
from passbridge.cli.policy import policy
from passbridge.directory.service import DirectoryService
from passbridge.graph.policies import passkey_profile_json
from passbridge.methods.passkey_profile_admin import PasskeyProfileAdmin, ProfileSpec, ProfileView
from passbridge.methods.passkey_profiles import (
    DEFAULT_PROFILE_ID,
    AttestationEnforcement,
    KeyRestrictions,
    parse_passkey_types,
    split_pem,
)
from passbridge.passes.policy import PolicyService
from passbridge.passes.policy_rules import ALL_USERS
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx


@policy.group("passkey-profile")
def passkey_profile() -> None:
    """Passkey profiles: which passkeys each group may register."""


def _json(view: ProfileView, names: dict[str, str]) -> dict[str, Any]:
    return {**passkey_profile_json(view.profile), "groups": [names.get(t, t) for t in view.target_ids]}


def _names(tx: Tx, env: Env, who: Principal) -> dict[str, str]:
    names = {g.id: g.display_name for g in DirectoryService(tx, env, who).list_groups()}
    names[ALL_USERS] = "all users"
    return names


def _human(views: list[dict[str, Any]]) -> None:
    for data in views:
        restrictions = data["keyRestrictions"]
        listed = (
            f"{restrictions['enforcementType']} {', '.join(restrictions['aaGuids']) or '(none)'}"
            if restrictions["isEnforced"]
            else "any model"
        )
        groups = ", ".join(data["groups"]) or ("everyone else" if data["id"] == DEFAULT_PROFILE_ID else "-")
        click.echo(f"{data['name']}  ({data['id']})")
        click.echo(f"  passkey types:  {data['passkeyTypes']}")
        click.echo(
            f"  attestation:    {data['attestationEnforcement']} ({len(data['attestationTrustRoots'])} roots)"
        )
        click.echo(f"  models:         {listed}")
        click.echo(f"  groups:         {groups}")


@passkey_profile.command("list")
@json_option
def profile_list(as_json: bool) -> None:
    """The profiles in the order they are matched; the default profile is everyone else's."""
    with unit(readonly=True) as (tx, env, who):
        names = _names(tx, env, who)
        rows = [_json(v, names) for v in PasskeyProfileAdmin(PolicyService(tx, env, who)).all()]
    emit({"value": rows}, as_json=as_json, human=lambda: _human(rows))


def _options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--passkey-types", help="deviceBound, synced or deviceBound,synced."),
            click.option(
                "--attestation/--no-attestation",
                default=None,
                help="Require an attestation that chains to a trusted root (or not).",
            ),
            click.option("--allow", "allow", multiple=True, metavar="AAGUID", help="Only these models."),
            click.option("--block", "block", multiple=True, metavar="AAGUID", help="Any model but these."),
            click.option("--any-model", is_flag=True, help="Clear the AAGUID list."),
            click.option(
                "--trust-root",
                "roots",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A PEM file of attestation roots this profile trusts (replaces the list).",
            ),
            click.option("--no-trust-roots", is_flag=True, help="Clear the profile's own roots."),
            click.option(
                "--group",
                "groups",
                multiple=True,
                metavar="GROUP",
                help="Group (name or id, or all_users) the profile applies to (replaces the list).",
            ),
            click.option("--no-groups", is_flag=True, help="Assign the profile to no group."),
            json_option,
        ]
    ):
        command = option(command)
    return command


def _spec(
    tx: Tx,
    env: Env,
    who: Principal,
    base: ProfileView | None,
    name: str | None,
    given: dict[str, Any],
) -> ProfileSpec:
    if sum(bool(given[k]) for k in ("allow", "block", "any_model")) > 1:
        raise click.UsageError("give one of --allow, --block or --any-model")
    current = base.profile if base is not None else None
    types = (
        parse_passkey_types(given["passkey_types"])
        if given["passkey_types"] is not None
        else (current.passkey_types if current else parse_passkey_types("deviceBound,synced"))
    )
    attestation = (
        (
            AttestationEnforcement.REGISTRATION_ONLY
            if given["attestation"]
            else AttestationEnforcement.DISABLED
        )
        if given["attestation"] is not None
        else (current.attestation if current else AttestationEnforcement.DISABLED)
    )
    restrictions = current.key_restrictions if current else KeyRestrictions()
    if given["allow"] or given["block"]:
        kind = "allow" if given["allow"] else "block"
        restrictions = KeyRestrictions(True, kind, tuple(given["allow"] or given["block"]))
    elif given["any_model"]:
        restrictions = KeyRestrictions()
    roots = current.trust_roots if current else ()
    if given["roots"]:
        roots = tuple(r for path in given["roots"] for r in split_pem(_read(path)))
    elif given["no_trust_roots"]:
        roots = ()
    targets: tuple[str, ...] | None = None
    if given["groups"]:
        directory = DirectoryService(tx, env, who)
        targets = tuple(ALL_USERS if g == ALL_USERS else directory.find_group(g).id for g in given["groups"])
    elif given["no_groups"]:
        targets = ()
    return ProfileSpec(
        name=name if name is not None else (current.name if current else ""),
        passkey_types=types,
        attestation=attestation,
        key_restrictions=restrictions,
        trust_roots=roots,
        target_ids=targets,
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc.__class__.__name__}")


@passkey_profile.command("add")
@click.argument("name")
@_options
def profile_add(name: str, as_json: bool, **given: Any) -> None:
    """Add a profile NAME (by default: any passkey, no attestation, no group)."""
    with unit() as (tx, env, who):
        admin = PasskeyProfileAdmin(PolicyService(tx, env, who))
        added = admin.add(_spec(tx, env, who, None, name, given))
        data = _json(added, _names(tx, env, who))
    emit(data, as_json=as_json, human=lambda: _human([data]))


@passkey_profile.command("update")
@click.argument("profile")
@click.option("--name", help="A new name.")
@_options
def profile_update(profile: str, name: str | None, as_json: bool, **given: Any) -> None:
    """Change PROFILE (name or id); options left out keep their values."""
    with unit() as (tx, env, who):
        admin = PasskeyProfileAdmin(PolicyService(tx, env, who))
        changed = admin.update(profile, _spec(tx, env, who, admin.find(profile), name, given))
        data = _json(changed, _names(tx, env, who))
    emit(data, as_json=as_json, human=lambda: _human([data]))


@passkey_profile.command("delete")
@click.argument("profile")
def profile_delete(profile: str) -> None:
    """Delete PROFILE (name or id); its groups get the next matching profile, or the default."""
    with unit() as (tx, env, who):
        gone = PasskeyProfileAdmin(PolicyService(tx, env, who)).delete(profile)
    click.echo(f"Deleted the passkey profile '{gone.name}'.")


__all__ = ["passkey_profile"]
