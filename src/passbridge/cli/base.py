"""The command group, its shared plumbing and its one error path."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError

from passbridge import __version__
from passbridge.config import ConfigError, Settings, load_settings
from passbridge.directory.tenant import require_tenant
from passbridge.domain.errors import DomainError
from passbridge.domain.text import unstorable_reason
from passbridge.security.secrets import PepperMissing
from passbridge.services.context import Env, Principal, operator
from passbridge.store.db import Database, DatabaseUnavailable, describe_db_error
from passbridge.store.tx import Tx


class Failure(Exception):
    """A command failed for a reason the operator can act on."""


def fail(message: str) -> NoReturn:
    raise Failure(message)


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def _run_guarded(invoke: Callable[[], Any]) -> int:
    try:
        invoke()
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        # click would print the usage, a hint and the error over three lines; scripts and people read one.
        where = exc.ctx.command_path if exc.ctx is not None else "passbridge"
        click.echo(f"passbridge: error: {_one_line(exc.format_message())} (see '{where} --help')", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"passbridge: error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("passbridge: aborted", err=True)
        return 1
    except (Failure, ConfigError, DomainError, DatabaseUnavailable, PepperMissing) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        click.echo(f"passbridge: error: {message}", err=True)
        return 1
    except SQLAlchemyError as exc:
        click.echo(f"passbridge: error: {describe_db_error(exc)}", err=True)
        return 1
    return 0


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="passbridge")
def root() -> None:
    """Passbridge: Temporary Access Passes and passwordless sign-in, self-hosted.

    Configuration comes from PASSBRIDGE_* environment variables (see the README).
    """


def _unstorable_argument(argv: list[str]) -> str | None:
    """Why an argument cannot be stored, if one cannot. Bytes that are not UTF-8 reach argv as lone
    surrogates (Python's surrogateescape); every lookup or write with one would fail in the database."""
    for argument in argv:
        reason = unstorable_reason(argument)
        if reason is not None:
            return f"an argument contains {reason}: pass valid UTF-8 text"
    return None


def run(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code. Every error ends as one line on stderr."""
    refused = _unstorable_argument(sys.argv[1:] if argv is None else argv)
    if refused is not None:
        click.echo(f"passbridge: error: {refused}", err=True)
        return 1
    return _run_guarded(lambda: root.main(args=argv, prog_name="passbridge", standalone_mode=False))


def main(argv: list[str] | None = None) -> NoReturn:
    sys.exit(run(argv))


def settings() -> Settings:
    return load_settings()


def load_env() -> Env:
    config = settings()
    db = Database(config.effective_database_url)
    try:
        current, head = db.schema_revision()
    finally:
        db.dispose()
    if current is None:
        fail("this store has no tenant yet; run 'passbridge init --admin UPN'")
    if current != head:
        fail(f"schema at revision {current}, expected {head}; run 'passbridge db upgrade'")
    return Env.from_settings(config)


@contextmanager
def unit(*, readonly: bool = False) -> Iterator[tuple[Tx, Env, Principal]]:
    """A transaction on an initialised store, acting as the operator."""
    env = load_env()
    try:
        with env.db.transaction("read" if readonly else "write") as tx:
            require_tenant(tx)
            yield tx, env, operator()
    finally:
        env.db.dispose()


def emit(data: Any, *, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        human()


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (Graph's property names).")
