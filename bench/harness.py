"""What the benchmarks share: free ports, pinning to a core, the machine's CPU name, and running wrk."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def pinned(argv: list[str], core: str) -> list[str]:
    return ["taskset", "-c", core, *argv] if shutil.which("taskset") else argv


def run_wrk(argv: list[str], *, core: str, env: dict[str, str], seconds: int) -> tuple[float, int]:
    """Requests per second and failed requests (non-2xx/3xx answers and socket errors) of one wrk run,
    `argv` being wrk's arguments after the program name, pinned to `core`."""
    out = subprocess.run(
        pinned(["wrk", *argv], core),
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    failed = int(bad.group(1)) if bad else 0
    if errors:
        failed += sum(int(n) for n in re.findall(r"\d+", errors.group(0)))
    return rate, failed
