"""`passbridge user|group|role ...`"""

from __future__ import annotations

from typing import Any

import click

from passbridge.cli.base import emit, fail, json_option, root, unit
from passbridge.cli.hr_options import hr_options, hr_values
from passbridge.clock import iso_z
from passbridge.directory.service import DirectoryService
from passbridge.graph.shapes import group_json, user_json


@root.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("upn")
@click.option("--display-name", help="Display name (default: the part of the UPN before @).")
@click.option("--mail", help="Email address.")
@hr_options
@json_option
def user_add(upn: str, display_name: str | None, mail: str | None, as_json: bool, **options: Any) -> None:
    """Create a user named UPN (alias@domain)."""
    manager = options.pop("manager")
    values = hr_values(options)
    with unit() as (tx, env, who):
        directory = DirectoryService(tx, env, who)
        created = directory.add_user(upn, display_name=display_name, mail=mail, **values)
        if manager is not None:
            directory.set_manager(created.id, manager)
        data = user_json(created)
    emit(
        data, as_json=as_json, human=lambda: click.echo(f"Created {data['userPrincipalName']} ({data['id']})")
    )


@user.command("update")
@click.argument("upn")
@click.option("--display-name", help="New display name.")
@click.option("--mail", help="New email address ('' clears it).")
@hr_options
@click.option("--no-hire-date", is_flag=True, help="Clear the hire date.")
@click.option("--no-other-mails", is_flag=True, help="Clear the other mail addresses.")
@click.option("--no-manager", is_flag=True, help="Leave the user without a manager.")
@json_option
def user_update(
    upn: str,
    display_name: str | None,
    mail: str | None,
    no_hire_date: bool,
    no_other_mails: bool,
    no_manager: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Change a user's properties (by UPN or id); '' clears a text property."""
    manager = options.pop("manager")
    values = hr_values(options)
    if no_manager and manager is not None:
        fail("give --manager or --no-manager, not both")
    if no_hire_date:
        values["employee_hire_date"] = None
    if no_other_mails:
        values["other_mails"] = None
    if display_name is not None:
        values["display_name"] = display_name
    if mail is not None:
        values["mail"] = mail or None
    with unit() as (tx, env, who):
        directory = DirectoryService(tx, env, who)
        changed = directory.update_user(upn, **values)
        if manager is not None or no_manager:
            directory.set_manager(changed.id, manager)
        data = user_json(changed)
    emit(data, as_json=as_json, human=lambda: click.echo(f"Updated {data['userPrincipalName']}"))


@user.command("list")
@json_option
def user_list(as_json: bool) -> None:
    """List users."""
    with unit(readonly=True) as (tx, env, who):
        rows = [user_json(u) for u in DirectoryService(tx, env, who).list_users()]

    def human() -> None:
        for row in rows:
            state = "" if row["accountEnabled"] else "  (disabled)"
            click.echo(f"{row['userPrincipalName']:<40} {row['displayName']:<28} {row['id']}{state}")

    emit({"value": rows}, as_json=as_json, human=human)


# What `user show` prints after the name, in this order, with the labels people read.
_SHOWN = (
    ("id", "id"),
    ("mail", "mail"),
    ("accountEnabled", "accountEnabled"),
    ("employeeId", "employee id"),
    ("employeeType", "employee type"),
    ("employeeHireDate", "hire date"),
    ("department", "department"),
    ("jobTitle", "job title"),
    ("companyName", "company"),
    ("officeLocation", "office"),
    ("usageLocation", "usage location"),
    ("mobilePhone", "mobile"),
)


@user.command("show")
@click.argument("upn")
@json_option
def user_show(upn: str, as_json: bool) -> None:
    """Show one user, by UPN or id, with HR properties, manager, groups and roles."""
    with unit(readonly=True) as (tx, env, who):
        service = DirectoryService(tx, env, who)
        found = service.get_user(upn)
        data = user_json(found)
        manager = service.get_manager(found.id)
        data["manager"] = (
            None if manager is None else {"id": manager.id, "userPrincipalName": manager.user_principal_name}
        )
        data["memberOf"] = [g.display_name for g in service.groups_of(found)]
        data["directoryRoles"] = [r.display_name for r in service.roles_of(found)]

    def human() -> None:
        click.echo(f"{'userPrincipalName:':<18} {data['userPrincipalName']}")
        click.echo(f"{'displayName:':<18} {data['displayName']}")
        for key, label in _SHOWN:
            value = data[key]
            click.echo(f"{label + ':':<18} {'-' if value is None else value}")
        click.echo(f"{'other mails:':<18} {', '.join(data['otherMails']) or '-'}")
        boss = data["manager"]
        click.echo(f"{'manager:':<18} {boss['userPrincipalName'] if boss else '-'}")
        click.echo(f"{'created:':<18} {data['createdDateTime']}")
        click.echo(f"{'groups:':<18} {', '.join(data['memberOf']) or '-'}")
        click.echo(f"{'roles:':<18} {', '.join(data['directoryRoles']) or '-'}")

    emit(data, as_json=as_json, human=human)


@user.command("disable")
@click.argument("upn")
def user_disable(upn: str) -> None:
    """Block sign-in for a user and end their sessions."""
    with unit() as (tx, env, who):
        found = DirectoryService(tx, env, who).set_account_enabled(upn, False)
        name = found.user_principal_name
    click.echo(f"Disabled {name}")


@user.command("enable")
@click.argument("upn")
def user_enable(upn: str) -> None:
    """Allow a disabled user to sign in again."""
    with unit() as (tx, env, who):
        name = DirectoryService(tx, env, who).set_account_enabled(upn, True).user_principal_name
    click.echo(f"Enabled {name}")


@user.command("delete")
@click.argument("upn")
def user_delete(upn: str) -> None:
    """Delete a user with their methods, memberships and roles."""
    with unit() as (tx, env, who):
        DirectoryService(tx, env, who).delete_user(upn)
    click.echo(f"Deleted {upn}")


@root.group()
def group() -> None:
    """Manage groups."""


@group.command("add")
@click.argument("name")
@click.option("--description", help="What the group is for.")
@json_option
def group_add(name: str, description: str | None, as_json: bool) -> None:
    """Create a group. Names must be unique here so commands can refer to them."""
    with unit() as (tx, env, who):
        created = DirectoryService(tx, env, who).add_group(name, description=description, unique_name=True)
        data = group_json(created)
    emit(
        data, as_json=as_json, human=lambda: click.echo(f"Created group {data['displayName']} ({data['id']})")
    )


@group.command("list")
@json_option
def group_list(as_json: bool) -> None:
    """List groups."""
    with unit(readonly=True) as (tx, env, who):
        rows = [group_json(g) for g in DirectoryService(tx, env, who).list_groups()]

    def human() -> None:
        for row in rows:
            click.echo(f"{row['displayName']:<40} {row['id']}")

    emit({"value": rows}, as_json=as_json, human=human)


@group.command("add-member")
@click.argument("group_name", metavar="GROUP")
@click.argument("upn")
def group_add_member(group_name: str, upn: str) -> None:
    """Add the user UPN to GROUP (name or id)."""
    with unit() as (tx, env, who):
        DirectoryService(tx, env, who).add_member(group_name, upn)
    click.echo(f"Added {upn} to {group_name}")


@group.command("remove-member")
@click.argument("group_name", metavar="GROUP")
@click.argument("upn")
def group_remove_member(group_name: str, upn: str) -> None:
    """Remove the user UPN from GROUP (name or id)."""
    with unit() as (tx, env, who):
        DirectoryService(tx, env, who).remove_member(group_name, upn)
    click.echo(f"Removed {upn} from {group_name}")


@root.group()
def role() -> None:
    """Directory roles."""


@role.command("assign")
@click.argument("role_name", metavar="ROLE")
@click.argument("upn")
def role_assign(role_name: str, upn: str) -> None:
    """Give UPN a directory role, e.g. 'Authentication Administrator' or authentication-administrator."""
    with unit() as (tx, env, who):
        assigned, target = DirectoryService(tx, env, who).assign_role(role_name, upn)
        name, at = target.user_principal_name, iso_z(env.clock.now())
    click.echo(f"{name} now holds {assigned.display_name} (since {at})")


@role.command("remove")
@click.argument("role_name", metavar="ROLE")
@click.argument("upn")
def role_remove(role_name: str, upn: str) -> None:
    """Take a directory role away from UPN."""
    with unit() as (tx, env, who):
        removed, target = DirectoryService(tx, env, who).remove_role(role_name, upn)
    click.echo(f"{target.user_principal_name} no longer holds {removed.display_name}")
