"""`passbridge tap bulk` and `tap bulk-report`: passes for a group or a CSV of sign-in names.

The passes go to the result file and nowhere else: not stdout, not a log, not the database (the job
keeps no sealed copy for a CLI run). The file is created before anything is issued, with O_EXCL and mode
0600, so an existing file is refused rather than overwritten, and written once, when the run ends or stops.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from passbridge.cli.base import emit, fail, json_option, load_env
from passbridge.cli.taps import _lifetime, _start, tap
from passbridge.clock import iso_z
from passbridge.directory.tenant import require_tenant
from passbridge.domain.errors import DomainError
from passbridge.passes import bulk, bulk_jobs
from passbridge.passes.bulk_csv import MAX_CSV_BYTES, read_names, result_csv
from passbridge.passes.rules import PassRequest
from passbridge.services.context import Env, operator

PLAIN_EVERY_S = 5.0  # a progress line this often when stderr is not a terminal (a log, a CI job)


def _names_from(path: str) -> list[str]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CSV_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    try:
        return read_names(data, path)
    except DomainError as exc:
        fail(exc.message)


def _create_result_file(path: str) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} exists already; give a new file (the passes are written once, never over a file)")
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror}")


def _progress(total: int) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A bar on a terminal; otherwise a plain line every PLAIN_EVERY_S seconds and at the end."""
    if sys.stderr.isatty():
        bar = click.progressbar(length=total, label="Issuing passes", file=sys.stderr, show_pos=True)
        bar.__enter__()
        shown = [0]

        def advance(done: int, _total: int) -> None:
            bar.update(done - shown[0])
            shown[0] = done

        return advance, lambda: bar.__exit__(None, None, None)
    last = [0.0]

    def line(done: int, total_: int) -> None:
        now = time.monotonic()
        if done == total_ or now - last[0] >= PLAIN_EVERY_S:
            last[0] = now
            click.echo(f"passbridge: issued {done} of {total_} ({100 * done // max(total_, 1)}%)", err=True)

    return line, lambda: None


@tap.command("bulk")
@click.option("--group", "group_ref", metavar="NAME", help="Every direct member of this group (name or id).")
@click.option("--csv", "csv_path", metavar="FILE", help="A CSV file with a 'upn' column.")
@click.option("--start", metavar="ISO8601", help="When the passes become usable (default: now).")
@click.option("--lifetime", metavar="MIN", help="Minutes each pass lasts (default: the policy's).")
@click.option("--one-time/--multi-use", "one_time", default=None, help="Default: the policy's.")
@click.option(
    "--out", "out_path", metavar="RESULT.csv", required=True, help="The result file (created, mode 0600)."
)
def tap_bulk(
    group_ref: str | None,
    csv_path: str | None,
    start: str | None,
    lifetime: str | None,
    one_time: bool | None,
    out_path: str,
) -> None:
    """Issue a pass for every member of a group or every name in a CSV, replacing any pass each holds.

    Writes upn, pass, start, end, one-time, status, reason to RESULT.csv: the only place the passes are."""
    if (group_ref is None) == (csv_path is None):
        fail("give one of --group NAME or --csv FILE")
    request = PassRequest(_start(start), _lifetime(lifetime), one_time)
    names = _names_from(csv_path) if csv_path is not None else []
    fd = _create_result_file(out_path)
    try:
        env = load_env()
    except BaseException:
        os.close(fd)
        os.unlink(out_path)
        raise
    try:
        _run(env, fd, out_path, group_ref, csv_path, names, request)
    finally:
        env.db.dispose()


def _run(
    env: Env,
    fd: int,
    out_path: str,
    group_ref: str | None,
    csv_path: str | None,
    names: list[str],
    request: PassRequest,
) -> None:
    who = operator()
    try:
        with env.db.transaction() as tx:
            require_tenant(tx)
            if group_ref is not None:
                name, targets = bulk.group_targets(tx, env, who, group_ref)
                source = f"group {name}"
            else:
                targets, source = names, f"CSV {Path(csv_path or '').name}"
            job_id = bulk.create_job(
                tx, env, who, source=source, targets=targets, request=request, keeps_result=False
            )
    except BaseException:
        os.close(fd)
        os.unlink(out_path)  # nothing was issued: leave no empty file behind
        raise
    advance, close = _progress(len(targets))
    run = bulk.BulkRun(env, who, job_id, keep_values=True, progress=advance)
    try:
        run.run()
    finally:
        close()
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(result_csv(run.outcomes))
        issued = sum(1 for o in run.outcomes if o.status == "issued")
        click.echo(
            f"Job {job_id}: {issued} issued, {len(run.outcomes) - issued} refused, of {len(targets)}; "
            f"the passes are in {out_path} (mode 0600) and nowhere else."
        )
    click.echo(f"Which were used, later: passbridge tap bulk-report {job_id}")


@tap.command("bulk-report")
@click.argument("job_id", metavar="JOB")
@json_option
def tap_bulk_report(job_id: str, as_json: bool) -> None:
    """Which passes of a bulk run were used, and which expired unused."""
    env = load_env()
    try:
        with env.db.transaction("read") as tx:
            require_tenant(tx)
            view = bulk_jobs.get_job(tx, env, operator(), job_id)
            lines = bulk_jobs.report(tx, env, operator(), job_id)
    finally:
        env.db.dispose()
    data: dict[str, Any] = {
        "id": view.job.id,
        "state": view.state,
        "source": view.job.source,
        "total": view.job.total,
        "issued": view.job.issued,
        "refused": view.job.refused,
        "passes": [x.as_json() for x in lines],
    }

    def human() -> None:
        tally: dict[str, int] = {}
        for x in lines:
            tally[x.use] = tally.get(x.use, 0) + 1
        summary = ", ".join(f"{n} {use}" for use, n in sorted(tally.items())) or "no passes"
        click.echo(f"Job {view.job.id} ({view.job.source}, {view.state}): {summary}")
        for x in lines:
            used = f" at {iso_z(x.used_at)}" if x.used_at else ""
            click.echo(f"  {x.upn}  {x.use}{used}  (valid {iso_z(x.start)} to {iso_z(x.end)})")

    emit(data, as_json=as_json, human=human)
