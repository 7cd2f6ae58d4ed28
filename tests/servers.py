"""Starting real server processes for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from passbridge.config import load_settings
from passbridge.directory import queries as directory_store
from passbridge.services.context import Env
from passbridge.tokens.service import issue_app_token

PASSBRIDGE = Path(sys.executable).with_name("passbridge")
TEST_PEPPER = "test-pepper-" + "x" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


ADMIN = "admin@contoso.example"


def initialised_store(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a store whose data dir is `tmp_path` (this process's PASSBRIDGE_* variables
    left out; `settings` adds others, PASSBRIDGE_BASE_URL=... and so on), initialised by `passbridge
    init` with ADMIN as its administrator."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    environ.update(PASSBRIDGE_DATA_DIR=str(tmp_path), PASSBRIDGE_PEPPER=TEST_PEPPER, **settings)
    subprocess.run([str(PASSBRIDGE), "init", "--admin", ADMIN], env=environ, check=True, capture_output=True)
    return environ


@contextmanager
def serving(environ: dict[str, str], port: int, log_file: Path) -> Iterator[subprocess.Popen[str]]:
    """`passbridge serve` on `port`, its output in `log_file`, answering /readyz; stopped afterwards."""
    with log_file.open("w") as sink:
        proc = subprocess.Popen(
            [str(PASSBRIDGE), "serve", "--port", str(port)], env=environ, text=True, stdout=sink, stderr=sink
        )
        try:
            wait_ready(f"http://localhost:{port}/readyz", proc)
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)


@dataclass
class ServedStore:
    """A real `passbridge serve` on a fresh SQLite store with one registered application."""

    base: str
    environ: dict[str, str]
    proc: subprocess.Popen[str]
    log_file: Path

    def app_token(self) -> str:
        """An access token for the registered application, minted from the same store and pepper."""
        settings = load_settings(
            data_dir=Path(self.environ["PASSBRIDGE_DATA_DIR"]), pepper=TEST_PEPPER, base_url=self.base
        )
        env = Env.from_settings(settings)
        try:
            with env.db.transaction("read") as tx:
                return issue_app_token(tx, env, directory_store.applications(tx)[0]).access_token
        finally:
            env.db.dispose()


@contextmanager
def served_store(tmp_path: Path, *permissions: str, **settings: str) -> Iterator[ServedStore]:
    """`settings` adds PASSBRIDGE_* variables (PASSBRIDGE_LOG_FORMAT="json" and so on)."""
    port = free_port()
    base = f"http://localhost:{port}"
    environ = initialised_store(tmp_path, PASSBRIDGE_BASE_URL=base, **settings)
    grants = [arg for p in permissions for arg in ("--permission", p)]
    subprocess.run(
        [str(PASSBRIDGE), "app", "add", "Script", *grants], env=environ, check=True, capture_output=True
    )
    log_file = tmp_path / "server.log"
    with serving(environ, port, log_file) as proc:
        yield ServedStore(base, environ, proc, log_file)
