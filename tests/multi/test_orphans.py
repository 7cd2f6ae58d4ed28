"""`serve --workers N` workers do not outlive their master."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.servers import PASSBRIDGE, free_port, initialised_store, wait_ready


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever adopted it to reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


def _port_free(port: int) -> bool:
    """Whether a new server could listen on the port (SO_REUSEADDR, as uvicorn binds)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


@pytest.mark.multi
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from Linux's /proc")
def test_workers_exit_and_free_the_port_when_the_master_is_killed(tmp_path: Path) -> None:
    port = free_port()
    env = initialised_store(tmp_path)
    log = (tmp_path / "serve.log").open("w")
    master = subprocess.Popen(
        [str(PASSBRIDGE), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    workers: set[int] = set()
    try:
        wait_ready(f"http://localhost:{port}/readyz", master)
        deadline = time.monotonic() + 20
        # Both workers up: multiprocessing's resource tracker is a child too, but serves nothing.
        while time.monotonic() < deadline:
            workers = {pid for pid in _children(master.pid) if b"spawn_main" in _cmdline(pid)}
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2, (tmp_path / "serve.log").read_text()

        master.send_signal(signal.SIGKILL)
        master.wait(timeout=10)
        deadline = time.monotonic() + 10  # a graceful stop takes well under a second; the machine may be busy
        while time.monotonic() < deadline and (any(_running(pid) for pid in workers) or not _port_free(port)):
            time.sleep(0.1)
        assert [pid for pid in workers if _running(pid)] == []
        assert _port_free(port)
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()
        for pid in workers:  # the old behaviour's orphans: never left behind by the test
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""
