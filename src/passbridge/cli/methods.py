"""`passbridge method list|delete`: every authentication method of a user, as the Graph API's
`/authentication/methods` shows them, and deleting one (the same services as the API)."""

from __future__ import annotations

from typing import Any

import click

from passbridge.cli.base import emit, json_option, root, unit
from passbridge.graph.methods import _method_json
from passbridge.methods.passwordless import PasswordlessMethodService
from passbridge.methods.service import MethodsService

KIND_NAMES = {
    "#microsoft.graph.temporaryAccessPassAuthenticationMethod": "temporaryAccessPass",
    "#microsoft.graph.fido2AuthenticationMethod": "passkey",
    "#microsoft.graph.softwareOathAuthenticationMethod": "authenticatorApp",
}
KIND_NAMES_BY_KIND = {
    "temporaryAccessPass": "Temporary Access Pass",
    "fido2": "passkey",
    "softwareOath": "authenticator app",
}


def _row(view: Any, data: dict[str, Any]) -> str:
    kind = KIND_NAMES.get(data["@odata.type"], data["@odata.type"])
    # Graph shows no name for an authenticator app; the operator sees the one the user gave.
    name = getattr(view, "display_name", None) or "-"
    if data.get("model"):
        name = f"{name} ({data['model']})"
    return f"{kind:<20} {data['id']}  {name:<36} created {data.get('createdDateTime')}"


@root.group()
def method() -> None:
    """Users' authentication methods: passes, passkeys and authenticator apps."""


@method.command("list")
@click.argument("upn")
@json_option
def method_list(upn: str, as_json: bool) -> None:
    """List UPN's methods: type, id, name and when each was registered."""
    with unit(readonly=True) as (tx, env, who):
        views = MethodsService(tx, env, who).list(upn)
        # beta shapes: they carry createdDateTime for every kind.
        data = [_method_json(m, True) for m in views]

    def human() -> None:
        if not data:
            click.echo(f"{upn} has no authentication methods.")
        for view, item in zip(views, data, strict=True):
            click.echo(_row(view, item))

    emit(data, as_json=as_json, human=human)


@method.command("delete")
@click.argument("upn")
@click.argument("method_id")
def method_delete(upn: str, method_id: str) -> None:
    """Delete one of UPN's methods by id. Deleting a passkey or app ends UPN's sign-in sessions."""
    with unit() as (tx, env, who):
        kind = PasswordlessMethodService(tx, env, who).delete_any(upn, method_id)
    click.echo(f"Deleted {KIND_NAMES_BY_KIND.get(kind, kind)} {method_id.strip().lower()} of {upn}")
