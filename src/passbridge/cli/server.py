"""`passbridge init|serve|demo|db ...`: bringing a store and a server up."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from passbridge.cli.base import Failure, fail, json_option, root, settings
from passbridge.clock import iso_z
from passbridge.config import Settings
from passbridge.directory import tenant as tenant_service
from passbridge.domain.errors import AlreadyInitialised
from passbridge.metrics import MULTIPROC_ENV
from passbridge.security.secrets import create_pepper_file
from passbridge.services.context import Env, operator
from passbridge.store.db import Database


def _prepare_store(config: Settings) -> Database:
    """Make the data dir (SQLite lives there; owner-only) and bring the schema to head."""
    if config.database_url is None:
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = Database(config.effective_database_url)
    db.upgrade()
    return db


def _has_tenant(db: Database) -> bool:
    with db.transaction("read") as tx:
        return tenant_service.has_tenant(tx)


def _ensure_pepper(config: Settings) -> None:
    if config.pepper is None and not config.pepper_file.exists():
        create_pepper_file(config.pepper_file)


def _initialise(config: Settings, admin: str, tenant_name: str) -> dict[str, str]:
    db = _prepare_store(config)
    try:
        if _has_tenant(db):
            raise AlreadyInitialised("this store is already initialised; nothing was changed")
    finally:
        db.dispose()
    _ensure_pepper(config)
    env = Env.from_settings(config)
    try:
        with env.db.transaction() as tx:
            done = tenant_service.initialise(tx, env, operator(), admin_upn=admin, tenant_name=tenant_name)
            return {
                "tenantId": done.tenant.id,
                "tenantName": done.tenant.display_name,
                "adminUserId": done.admin.id,
                "adminUpn": done.admin.user_principal_name,
                "temporaryAccessPass": done.bootstrap_pass.value,
                "temporaryAccessPassExpires": iso_z(done.bootstrap_pass.view.end) or "",
                "signInUrl": done.sign_in_url,
            }
    finally:
        env.db.dispose()


def print_sign_in(data: dict[str, str]) -> None:
    click.echo(f"Tenant:     {data['tenantName']} ({data['tenantId']})")
    click.echo(f"Admin:      {data['adminUpn']}")
    click.echo(f"Sign in at: {data['signInUrl']}")
    click.echo(f"One-time Temporary Access Pass: {data['temporaryAccessPass']}")
    click.echo(f"  valid until {data['temporaryAccessPassExpires']}; shown only now.")


@root.command()
@click.option("--admin", "admin", required=True, metavar="UPN", help="The first Global Administrator.")
@click.option("--tenant-name", default="Passbridge", show_default=True, help="The organisation's name.")
@json_option
def init(admin: str, tenant_name: str, as_json: bool) -> None:
    """Create the tenant, its first administrator, and that administrator's one-time pass."""
    data = _initialise(settings(), admin, tenant_name)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo("Initialised.")
        print_sign_in(data)


@root.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    database = _prepare_store(settings())
    try:
        click.echo(f"Schema at revision {database.current_revision()}")
    finally:
        database.dispose()


@dataclass(frozen=True)
class Tls:
    """uvicorn's certificate and key files; none for plain HTTP."""

    certfile: str | None = None
    keyfile: str | None = None


def _tls(certfile: str | None, keyfile: str | None) -> Tls:
    """The files, once the certificate and key load together; else one line. Loading them here, before
    the workers start, turns a wrong path or a mismatched key into that line."""
    if certfile is None:
        if keyfile is not None:
            fail("--keyfile needs --certfile (PASSBRIDGE_TLS_CERTFILE) too")
        return Tls()
    for path in [p for p in (certfile, keyfile) if p]:
        # ssl's own errors name no file: open each first, so the line says which one.
        try:
            with Path(path).open("rb"):
                pass
        except FileNotFoundError:
            fail(f"TLS: {path} does not exist")
        except OSError as exc:
            fail(f"TLS: {path} cannot be read: {exc.strerror}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as exc:
        # ssl names no file: say which pair did not load.
        key = f" with the key {keyfile}" if keyfile else " (key in the same file)"
        fail(f"TLS: the certificate {certfile}{key} could not be loaded: {exc.strerror or exc}")
    return Tls(certfile, keyfile)


@contextmanager
def metrics_dir(several: bool) -> Iterator[None]:
    """With several workers, prometheus-client's multiprocess mode: a directory only this user can
    read, named in the environment the workers inherit, removed when serving ends (a stale one would
    add a previous run's counts to this one's). One process keeps its metrics in memory."""
    if not several:
        os.environ.pop(MULTIPROC_ENV, None)
        yield
        return
    directory = tempfile.mkdtemp(prefix="passbridge-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _serve(
    config: Settings,
    host: str,
    port: int,
    workers: int,
    *,
    access_log: bool = True,
    tls: Tls = Tls(),
) -> None:
    import uvicorn

    from passbridge.access_log import log_config
    from passbridge.json_log import json_log_config

    database = _prepare_store(config)
    database.dispose()
    Env.from_settings(config).db.dispose()  # fail now, in one line, if the pepper is missing
    with metrics_dir(workers > 1 and config.metrics != "off"):
        uvicorn.run(
            # Several workers: each one's factory first ties it to the master (passbridge/worker.py).
            "passbridge.worker:worker_app" if workers > 1 else "passbridge.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            ssl_certfile=tls.certfile,
            ssl_keyfile=tls.keyfile,
            access_log=access_log,
            log_config=json_log_config() if config.log_format == "json" else log_config(),
            proxy_headers=False,
        )


@root.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (use PostgreSQL for more than one).",
)
@click.option(
    "--no-access-log",
    "no_access_log",
    is_flag=True,
    help="Do not log a line per request (uvicorn's access log costs a few percent of each request).",
)
@click.option(
    "--certfile",
    envvar="PASSBRIDGE_TLS_CERTFILE",
    metavar="PEM",
    help="Serve HTTPS with this certificate (chain first to last); env PASSBRIDGE_TLS_CERTFILE.",
)
@click.option(
    "--keyfile",
    envvar="PASSBRIDGE_TLS_KEYFILE",
    metavar="PEM",
    help="The certificate's private key, unless the certificate file holds it; env PASSBRIDGE_TLS_KEYFILE.",
)
def serve(
    host: str, port: int, workers: int, no_access_log: bool, certfile: str | None, keyfile: str | None
) -> None:
    """Serve the API and pages (runs pending migrations first)."""
    tls = _tls(certfile, keyfile)
    config = settings()
    if tls.certfile and not config.base_url.startswith("https://"):
        click.echo(
            f"passbridge: note: serving HTTPS while PASSBRIDGE_BASE_URL is {config.base_url}; "
            "tokens and passkeys name that address, so set it to the https:// one",
            err=True,
        )
    if workers > 1 and config.effective_database_url.startswith("sqlite"):
        click.echo(
            "passbridge: note: several workers on SQLite share one file; PostgreSQL suits them better",
            err=True,
        )
    _serve(config, host, port, workers, access_log=not no_access_log, tls=tls)


@root.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def demo(host: str, port: int) -> None:
    """Create a demo tenant in the data dir if there is none, then serve it."""
    from passbridge.demo import seed_demo

    config = settings()
    if port != 8000 and "PASSBRIDGE_BASE_URL" not in os.environ:
        config = config.model_copy(update={"base_url": f"http://localhost:{port}"})
        os.environ["PASSBRIDGE_BASE_URL"] = config.base_url
    # The demo serves its relying party too (PASSBRIDGE_DEMO_RP, read by the server's settings).
    os.environ["PASSBRIDGE_DEMO_RP"] = "1"
    try:
        info = seed_demo(config)
    except Failure:
        raise
    except AlreadyInitialised:
        fail("the data dir holds a store that is not a demo tenant; choose another PASSBRIDGE_DATA_DIR")
    click.echo("Passbridge demo")
    for line in info:
        click.echo(line)
    _serve(config, host, port, 1)
