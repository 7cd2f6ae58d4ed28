"""The start of each `passbridge serve --workers N` worker: the app, bound to live no longer than its master.

uvicorn's master binds the port and spawns the workers, which inherit the listening socket. Killed
with SIGKILL, the master can no longer stop them, and they went on serving with the port taken; so
each worker watches its master itself and stops (SIGTERM: uvicorn's graceful shutdown) when it dies.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading

from fastapi import FastAPI

# <linux/prctl.h>: deliver a signal to this process when the thread that created it dies. uvicorn
# spawns and respawns workers from its main thread, so that thread's end is the master's end.
PR_SET_PDEATHSIG = 1


def exit_with_parent() -> None:
    """Stop this process when the process that spawned it dies. Does nothing in a process that
    multiprocessing did not spawn (a single `serve` process has no master to outlive)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if sys.platform == "linux":
        # The kernel's way needs no running Python: it works even while this process is stuck.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    # Everywhere (and should the master have died before the prctl above): multiprocessing's
    # sentinel, a pipe whose other end only the master holds, reads end-of-file once it is gone.
    threading.Thread(
        target=_stop_when_gone, args=(parent.sentinel,), name="passbridge-parent-watch", daemon=True
    ).start()


def _stop_when_gone(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os.kill(os.getpid(), signal.SIGTERM)


def worker_app() -> FastAPI:
    """Factory for uvicorn's workers (`serve --workers N`)."""
    exit_with_parent()
    from passbridge.app import create_app_from_env

    return create_app_from_env()
