"""Periodic tasks this process runs: each a callable(env) run every N seconds in a daemon thread of its
own, started and stopped with the app's lifespan (app.py). An exception is logged and the task runs
again at its next turn. Every server process (every worker) runs them; the tasks themselves make that
safe (the mail sender claims rows).

To add one, append it to `tasks()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from passbridge.services.context import Env

log = logging.getLogger("passbridge.background")


@dataclass(frozen=True)
class Task:
    name: str
    run: Callable[[Env], None]
    every_seconds: Callable[[Env], float]
    # Whether this process should run it at all (the mail sender needs an SMTP URL).
    wanted: Callable[[Env], bool] = lambda env: True


def tasks() -> list[Task]:
    """Every periodic task a server process runs."""
    from passbridge.joiner.service import run_periodically as joiner_turn
    from passbridge.mail.sender import run_periodically

    return [
        Task(
            "mail",
            run_periodically,
            every_seconds=lambda env: env.settings.mail_poll_seconds,
            wanted=lambda env: env.settings.smtp_url is not None,
        ),
        # Off until switched on (joiner/rules.py); a turn with it off is one read of its settings.
        Task("joiner", joiner_turn, every_seconds=lambda env: env.settings.joiner_poll_seconds),
    ]


class Background:
    """The running tasks of one process."""

    def __init__(self, env: Env, chosen: list[Task] | None = None) -> None:
        self.env = env
        self.tasks = [t for t in (tasks() if chosen is None else chosen) if t.wanted(env)]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for task in self.tasks:
            thread = threading.Thread(
                target=self._loop, args=(task,), name=f"passbridge-{task.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
            log.info("background task %s started, every %gs", task.name, task.every_seconds(self.env))

    def _loop(self, task: Task) -> None:
        # The first turn runs at once: mail that waited while the process was down goes out now.
        while not self._stop.is_set():
            try:
                task.run(self.env)
            except Exception:
                log.exception(
                    "background task %s failed; it runs again in %gs", task.name, task.every_seconds(self.env)
                )
            self._stop.wait(task.every_seconds(self.env))

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every task to stop after its current turn, and wait for that (at most `timeout` each)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
