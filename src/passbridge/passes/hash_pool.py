"""Argon2id pass hashes in worker processes, for bulk issuing: one process per usable core.

A process pool, not the keeper's threads: argon2-cffi releases the GIL while it hashes, but the rest of a
bulk run (planning, sealing, writing) is Python that would contend with it. The workers receive the Argon2
parameters when they start and, for each pass, what `SecretKeeper.peppered` made of it: never the pepper
or a key derived from it, so a worker can hash the passes it is given and nothing else. They start with
`spawn`, not `fork`: a fork would copy the parent's memory (the keeper's keys among it) and the locks
its other threads held at that instant.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from argon2 import PasswordHasher

from passbridge.security.secrets import Argon2Params, argon2_hasher, usable_cores

_hasher: PasswordHasher | None = None


def _start_worker(params: Argon2Params, niceness: int) -> None:
    global _hasher
    if niceness:
        # A server's bulk run yields the cores to its sign-ins, which hash too and have a person waiting.
        os.nice(niceness)
    _hasher = argon2_hasher(params)


def _hash_all(peppered: Sequence[bytes]) -> list[str]:
    assert _hasher is not None, "the pool's initializer made the hasher"
    return [_hasher.hash(p) for p in peppered]


class HashPool:
    """`submit(peppered)` hashes a few passes in one worker; a context manager that ends its workers."""

    def __init__(self, params: Argon2Params, *, processes: int | None = None, niceness: int = 0) -> None:
        self.size = processes or usable_cores()
        self._pool = ProcessPoolExecutor(
            self.size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(params, niceness),
        )

    def submit(self, peppered: Sequence[bytes]) -> Future[list[str]]:
        return self._pool.submit(_hash_all, list(peppered))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> HashPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
