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


def _wrk(argv: list[str], *, core: str, env: dict[str, str], seconds: int) -> tuple[str, int, int]:
    """One wrk run pinned to `core` (`argv`: wrk's arguments after the program name): its output, the
    non-2xx/3xx answers and the socket errors."""
    out = subprocess.run(
        pinned(["wrk", *argv], core),
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    rejected = int(bad.group(1)) if bad else 0
    broken = sum(int(n) for n in re.findall(r"\d+", errors.group(0))) if errors else 0
    return out, rejected, broken


def run_wrk(argv: list[str], *, core: str, env: dict[str, str], seconds: int) -> tuple[float, int]:
    """Requests per second and failed requests (non-2xx/3xx answers and socket errors) of one wrk run."""
    out, rejected, broken = _wrk(argv, core=core, env=env, seconds=seconds)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rate, rejected + broken


def run_wrk_counted(argv: list[str], *, core: str, env: dict[str, str], seconds: int) -> tuple[int, int]:
    """Successful requests (2xx/3xx answers) and failed ones (other answers and socket errors) of one wrk
    run: counts, so that a CPU time can be divided by the grants that were actually made."""
    out, rejected, broken = _wrk(argv, core=core, env=env, seconds=seconds)
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return done - rejected, rejected + broken


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process, all its threads and its descendants still running
    (a gunicorn master and its worker, uvicorn's workers), from /proc (Linux)."""
    total, tick, pending = 0.0, os.sysconf("SC_CLK_TCK"), [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total
