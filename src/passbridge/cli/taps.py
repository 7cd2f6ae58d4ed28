"""`passbridge tap issue|show|revoke` (the same service as the Graph API's temporaryAccessPassMethods)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from passbridge.cli.base import emit, fail, json_option, root, unit
from passbridge.clock import iso_z
from passbridge.directory.service import DirectoryService
from passbridge.graph.approvals import request_json
from passbridge.graph.shapes import tap_json
from passbridge.passes.approval import ApprovalService
from passbridge.passes.approval_rules import RequestView
from passbridge.passes.rules import PassRequest, Purpose, purpose_of
from passbridge.passes.service import PassView, TapService

# More digits than any lifetime needs; also far below Python's int-string limit (4,300 digits).
LIFETIME_DIGITS_MAX = 9


def _lifetime(text: str | None) -> int | None:
    # Parsed here rather than by click so a bad value ends as one line and exit 1, like every error.
    if text is None:
        return None
    digits = text.strip()
    # ASCII only: str.isdigit() also accepts superscripts and other scripts' digits int() refuses.
    if not (digits.isascii() and digits.isdigit()):
        fail(f"--lifetime must be a whole number of minutes; got '{text}'")
    if len(digits) > LIFETIME_DIGITS_MAX:
        fail("--lifetime is out of range: a pass lasts at most 43200 minutes (30 days).")
    return int(digits)


def _start(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
        # Graph reads a time without an offset as UTC; so does the CLI.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except ValueError:
        fail(f"--start must be an ISO 8601 time such as 2026-01-05T09:00:00Z; got '{text}'")
    except OverflowError:  # a time at the calendar's edge, moved to UTC
        fail(f"--start is out of range; got '{text}'")


def _terms(data: dict[str, Any], end: str | None) -> str:
    kind = "one-time" if data["isUsableOnce"] else "reusable"
    if data.get("purpose", "signIn") != "signIn":
        kind += f", for {data['purpose']} only (sets up sign-in methods)"
    return (
        f"{kind}, valid {data['startDateTime']} to {end} ({data['lifetimeInMinutes']} minutes); "
        f"{'usable' if data['isUsable'] else 'not usable'}: {data['methodUsabilityReason']}"
    )


def _awaiting(view: RequestView) -> None:
    click.echo(f"Awaiting approval by a second administrator: {view.why}.")
    click.echo(f"  request {view.id}; it expires {iso_z(view.expires_at)}")
    click.echo(f"  once approved: passbridge tap request collect {view.id}")


@root.group()
def tap() -> None:
    """Temporary Access Passes."""


@tap.command("issue")
@click.argument("upn")
@click.option("--lifetime", metavar="MIN", help="Minutes the pass lasts (default: the policy's).")
@click.option("--start", metavar="ISO8601", help="When the pass becomes usable (default: now).")
@click.option(
    "--one-time/--reusable",
    "one_time",
    default=None,
    help="One sign-in only, or any number within the lifetime (default: the policy's).",
)
@click.option(
    "--reason",
    metavar="TEXT",
    help="Why (a ticket id or a few words, at most 256 characters): audited, and told to the holder.",
)
@click.option(
    "--purpose",
    type=click.Choice([p.value for p in Purpose], case_sensitive=False),
    help="signIn (any use, the default), enrol (sets up sign-in methods only) or recover (enrol, and "
    "signs the lost devices out once a new method is registered).",
)
@json_option
def tap_issue(
    upn: str,
    lifetime: str | None,
    start: str | None,
    one_time: bool | None,
    reason: str | None,
    purpose: str | None,
    as_json: bool,
) -> None:
    """Issue a pass for UPN, replacing any pass they hold; prints the pass once. A holder with a mail
    address is told (never the pass itself), with a "This wasn't me" link."""
    wanted = PassRequest(_start(start), _lifetime(lifetime), one_time, reason, purpose_of(purpose))
    with unit() as (tx, env, who):
        issued = ApprovalService(tx, env, who).issue_or_request(upn, wanted)
        if isinstance(issued, RequestView):
            # Dual control (cli/approvals.py): no pass until an administrator approves and it is collected.
            pending = issued
            emit(request_json(pending), as_json=as_json, human=lambda: _awaiting(pending))
            return
        data = tap_json(issued.view, value=issued.value)
        end = iso_z(issued.view.end)
        name = DirectoryService(tx, env, who).find_user(issued.view.row.user_id).user_principal_name

    def human() -> None:
        click.echo(f"Temporary Access Pass for {name}: {data['temporaryAccessPass']}")
        click.echo(f"  {_terms(data, end)}")
        click.echo("  Hand it over now: it is not shown again.")

    emit(data, as_json=as_json, human=human)


@tap.command("show")
@click.argument("upn")
@json_option
def tap_show(upn: str, as_json: bool) -> None:
    """Show UPN's pass (never its value)."""
    with unit(readonly=True) as (tx, env, who):
        view: PassView | None = TapService(tx, env, who).get(upn)
        data = None if view is None else tap_json(view)
        end = None if view is None else iso_z(view.end)

    def human() -> None:
        if data is None:
            click.echo(f"{upn} has no Temporary Access Pass.")
            return
        click.echo(f"Temporary Access Pass {data['id']} for {upn}")
        click.echo(f"  created {data['createdDateTime']}")
        click.echo(f"  {_terms(data, end)}")

    emit(data, as_json=as_json, human=human)


@tap.command("revoke")
@click.argument("upn")
def tap_revoke(upn: str) -> None:
    """Delete UPN's pass."""
    with unit() as (tx, env, who):
        TapService(tx, env, who).revoke(upn)
    click.echo(f"Revoked the Temporary Access Pass of {upn}")
