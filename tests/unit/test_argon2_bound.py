"""Argon2 hashes running at once in one process are bounded (each holds its memory cost while it runs)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher

from passbridge.security import secrets as secrets_module
from passbridge.security.secrets import HASH_MEMORY_BUDGET_KIB, SecretKeeper, hash_slots

THREADS = 40  # anyio's default threadpool, which runs the services that hash
CALLS = 48


class CountingHasher:
    """The real PasswordHasher, counting the calls inside it at once and the threads that ran them."""

    def __init__(self, real: PasswordHasher) -> None:
        self._real = real
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.threads: set[int] = set()

    def _enter(self) -> None:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.get_ident())

    def _leave(self) -> None:
        with self._lock:
            self.running -= 1

    def hash(self, password: bytes) -> str:
        self._enter()
        try:
            return self._real.hash(password)
        finally:
            self._leave()

    def verify(self, stored: str, password: bytes) -> bool:
        self._enter()
        try:
            # Long enough that an unbounded pool would overlap far past the bound.
            time.sleep(0.01)
            return self._real.verify(stored, password)
        finally:
            self._leave()


def test_no_more_argon2_hashes_run_at_once_than_the_process_bound() -> None:
    keeper = SecretKeeper(b"bound-test-pepper-" + b"c" * 40)
    counting = CountingHasher(keeper._argon)
    keeper._argon = counting
    stored = keeper.slow_hash("the-pass")
    bound = secrets_module._hash_threads.size

    def work(i: int) -> bool:
        if i % 2:
            return keeper.slow_hash_matches("the-pass", stored)
        return keeper.slow_hash_matches("a wrong guess", stored) is False

    with ThreadPoolExecutor(THREADS) as pool:
        assert all(pool.map(work, range(CALLS)))
    assert 1 <= bound <= hash_slots(19456)
    assert 1 <= counting.peak <= bound
    # Only the bound's own threads ever hashed: each thread that runs one keeps its 19 MiB in malloc's
    # arena afterwards, so a semaphore over the request threads would not bound memory.
    assert len(counting.threads) <= bound


def test_hash_slots_follow_the_cores_and_the_memory_budget() -> None:
    assert 1 <= hash_slots(19456) <= HASH_MEMORY_BUDGET_KIB // 19456
    assert hash_slots(HASH_MEMORY_BUDGET_KIB) == 1
    assert hash_slots(HASH_MEMORY_BUDGET_KIB * 4) == 1
