"""`passbridge policy ...` and `passbridge audit ...` (the Graph API offers the same operations)."""

from __future__ import annotations

from typing import Any

import click

from passbridge.cli.base import emit, json_option, root, unit
from passbridge.clock import iso_z
from passbridge.directory.service import DirectoryService
from passbridge.graph.policies import tap_configuration_json
from passbridge.graph.shapes import audit_json
from passbridge.logs.audit import AuditService
from passbridge.logs.rules import AuditFilter
from passbridge.passes.policy import PolicyService, TapChanges
from passbridge.passes.policy_rules import ALL_USERS, PolicyState, Purpose, Target
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx


@root.group()
def policy() -> None:
    """The Temporary Access Pass policy."""


def _show(data: dict[str, Any], names: dict[str, str]) -> None:
    for key in (
        "state",
        "defaultLifetimeInMinutes",
        "minimumLifetimeInMinutes",
        "maximumLifetimeInMinutes",
        "defaultLength",
        "isUsableOnce",
        "includeSymbols",
        "requireReason",
        "enforcedPurpose",
        "revokeMultiUseAfterPasskey",
    ):
        click.echo(f"{key + ':':<28} {'-' if data[key] is None else data[key]}")
    for key in ("includeTargets", "excludeTargets"):
        shown = [names.get(t["id"], t["id"]) for t in data[key]]
        click.echo(f"{key + ':':<28} {', '.join(shown) or '-'}")
    click.echo(f"{'policyVersion:':<28} {data['policyVersion']}")
    click.echo(f"{'lastModifiedDateTime:':<28} {data['lastModifiedDateTime']}")


def _group_names(tx: Tx, env: Env, who: Principal) -> dict[str, str]:
    names = {g.id: g.display_name for g in DirectoryService(tx, env, who).list_groups()}
    names[ALL_USERS] = "all users"
    return names


@policy.command("show")
@json_option
def policy_show(as_json: bool) -> None:
    """Show the Temporary Access Pass policy."""
    with unit(readonly=True) as (tx, env, who):
        whole = PolicyService(tx, env, who).methods_policy()
        data = tap_configuration_json(whole.tap)
        data["policyVersion"] = str(whole.version)
        data["lastModifiedDateTime"] = iso_z(whole.last_modified)
        names = _group_names(tx, env, who)
    emit(data, as_json=as_json, human=lambda: _show(data, names))


def _targets(tx: Tx, env: Env, who: Principal, refs: tuple[str, ...]) -> tuple[Target, ...]:
    directory = DirectoryService(tx, env, who)
    return tuple(
        Target("group", ALL_USERS if ref == ALL_USERS else directory.find_group(ref).id) for ref in refs
    )


@policy.command("set")
@click.option("--state", type=click.Choice([s.value for s in PolicyState]), help="enabled or disabled.")
@click.option("--default-lifetime", type=int, help="Lifetime of a pass when the issuer gives none (minutes).")
@click.option("--min-lifetime", type=int, help="Shortest lifetime an issuer may choose (minutes).")
@click.option("--max-lifetime", type=int, help="Longest lifetime an issuer may choose (minutes).")
@click.option("--default-length", type=int, help="Characters in a new pass (8-48).")
@click.option(
    "--one-time/--no-one-time", default=None, help="Force every pass to be one-time, or let issuers choose."
)
@click.option(
    "--symbols/--no-symbols",
    default=None,
    help="Let passes hold symbols (# % & + = ? @), or keep them letters and digits (the default).",
)
@click.option(
    "--require-reason/--no-require-reason",
    default=None,
    help="Refuse to issue a pass without a reason (a ticket id or a few words), or let it be left out.",
)
@click.option(
    "--enforce-purpose",
    type=click.Choice(["none", *(p.value for p in Purpose)], case_sensitive=False),
    help="Bind every pass to at least this purpose (enrol: sets up methods only; recover: enrol that signs "
    "lost devices out), or 'none' to let issuers choose.",
)
@click.option(
    "--revoke-multi-use-after-passkey/--keep-multi-use-after-passkey",
    "revoke_multi_use",
    default=None,
    help="Revoke a multi-use pass as soon as its holder registers a passkey, or keep it until it ends.",
)
@click.option(
    "--include-group",
    multiple=True,
    metavar="GROUP",
    help="Group (name or id) whose members may use passes; 'all_users' for everyone. Replaces the list.",
)
@click.option(
    "--exclude-group",
    multiple=True,
    metavar="GROUP",
    help="Group (name or id) whose members may not use passes; exclusion wins. Replaces the list.",
)
@click.option("--no-exclusions", is_flag=True, help="Clear the excluded groups.")
@json_option
def policy_set(
    state: str | None,
    default_lifetime: int | None,
    min_lifetime: int | None,
    max_lifetime: int | None,
    default_length: int | None,
    one_time: bool | None,
    symbols: bool | None,
    require_reason: bool | None,
    enforce_purpose: str | None,
    revoke_multi_use: bool | None,
    include_group: tuple[str, ...],
    exclude_group: tuple[str, ...],
    no_exclusions: bool,
    as_json: bool,
) -> None:
    """Change the policy; options left out keep their values. The result is checked as a whole."""
    if no_exclusions and exclude_group:
        raise click.UsageError("give either --exclude-group or --no-exclusions, not both")
    given = (
        state,
        default_lifetime,
        min_lifetime,
        max_lifetime,
        default_length,
        one_time,
        symbols,
        require_reason,
        enforce_purpose,
        revoke_multi_use,
    )
    if all(v is None for v in given) and not (include_group or exclude_group or no_exclusions):
        raise click.UsageError("nothing to change; see 'passbridge policy set --help'")
    with unit() as (tx, env, who):
        changes = TapChanges(
            state=PolicyState(state) if state is not None else None,
            default_lifetime=default_lifetime,
            default_length=default_length,
            minimum_lifetime=min_lifetime,
            maximum_lifetime=max_lifetime,
            is_usable_once=one_time,
            include_symbols=symbols,
            require_reason=require_reason,
            enforced_purpose=(
                None if enforce_purpose is None else "" if enforce_purpose == "none" else enforce_purpose
            ),
            revoke_multi_use_after_passkey=revoke_multi_use,
            include_targets=_targets(tx, env, who, include_group) if include_group else None,
            exclude_targets=_targets(tx, env, who, exclude_group) if exclude_group or no_exclusions else None,
        )
        service = PolicyService(tx, env, who)
        service.update_tap(changes)
        whole = service.methods_policy()
        data = tap_configuration_json(whole.tap)
        data["policyVersion"] = str(whole.version)
        data["lastModifiedDateTime"] = iso_z(whole.last_modified)
        names = _group_names(tx, env, who)
    emit(data, as_json=as_json, human=lambda: _show(data, names))


@policy.command("reset")
def policy_reset() -> None:
    """Put the policy back to its defaults (enabled for all users, 60 minutes, 8 characters)."""
    with unit() as (tx, env, who):
        PolicyService(tx, env, who).reset_tap()
    click.echo("The Temporary Access Pass policy is back to its defaults.")


@root.group()
def audit() -> None:
    """The directory audit log."""


@audit.command("list")
@click.option("--top", type=click.IntRange(1, 999), default=50, show_default=True, help="How many entries.")
@json_option
def audit_list(top: int, as_json: bool) -> None:
    """The newest audit entries, newest first."""
    with unit(readonly=True) as (tx, env, who):
        found = AuditService(tx, env, who).search(AuditFilter(), after=None, limit=top)
        rows = [audit_json(e) for e in found.entries]

    def human() -> None:
        for row in rows:
            started = row["initiatedBy"]
            actor = (started.get("user") or {}).get("userPrincipalName") or (started.get("app") or {}).get(
                "displayName"
            )
            targets = ", ".join(
                str(t.get("userPrincipalName") or t.get("displayName") or t["id"])
                for t in row["targetResources"]
            )
            click.echo(
                f"{row['activityDateTime']}  {row['activityDisplayName']:<40} {actor or '-':<28} {targets}"
            )

    emit({"value": rows}, as_json=as_json, human=human)
