"""`passbridge keys ...`: token-signing keys."""

from __future__ import annotations

from datetime import timedelta

import click

from passbridge.cli.base import emit, json_option, root, unit
from passbridge.clock import iso_z
from passbridge.tokens import keys as key_service


@root.group()
def keys() -> None:
    """Token-signing keys (ES256) and their rotation."""


def _state_json(state: key_service.KeyState) -> dict[str, str | None]:
    return {
        "kid": state.kid,
        "alg": state.alg,
        "state": state.state,
        "createdDateTime": iso_z(state.created_at),
        "activatesDateTime": iso_z(state.activates_at),
        "retiresDateTime": iso_z(state.retired_at),
    }


@keys.command("list")
@json_option
def keys_list(as_json: bool) -> None:
    """Published keys: pending (published, not signing yet), active (signs) or published (verifies only)."""
    with unit(readonly=True) as (tx, env, who):
        rows = [_state_json(k) for k in key_service.overview(tx, env, who)]

    def human() -> None:
        for row in rows:
            retires = row["retiresDateTime"] or "-"
            click.echo(f"{row['kid']}  {row['state']:<9}  from {row['activatesDateTime']}  until {retires}")

    emit({"value": rows}, as_json=as_json, human=human)


# Bounds the minutes so a typo is a usage error, not a date past the year 9999.
TEN_YEARS = 10 * 366 * 24 * 60


@keys.command("rotate")
@click.option(
    "--publish-ahead",
    default=60,
    show_default=True,
    type=click.IntRange(min=6, max=TEN_YEARS),
    metavar="MINUTES",
    help="Publish the new key this long before it starts signing (longer than key-set caches live).",
)
@click.option(
    "--keep-old-for",
    default=1440,
    show_default=True,
    type=click.IntRange(min=5, max=TEN_YEARS),
    metavar="MINUTES",
    help="Keep older keys published this long after the new key activates (at least the token lifetime).",
)
@json_option
def keys_rotate(publish_ahead: int, keep_old_for: int, as_json: bool) -> None:
    """Publish a new signing key now; it signs after --publish-ahead, and older keys retire later."""
    with unit() as (tx, env, who):
        row = key_service.rotate(
            tx,
            env,
            who,
            publish_ahead=timedelta(minutes=publish_ahead),
            keep_old_for=timedelta(minutes=keep_old_for),
        )
        data = {"kid": row.kid, "alg": row.alg, "activatesDateTime": iso_z(row.activates_at)}

    def human() -> None:
        click.echo(f"New signing key {data['kid']} published; it signs from {data['activatesDateTime']}.")

    emit(data, as_json=as_json, human=human)
