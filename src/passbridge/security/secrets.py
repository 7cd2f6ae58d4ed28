"""The pepper and what is derived from it: keyed hashes, Argon2id pass hashes, sealed blobs.

The pepper lives outside the database (a 0600 file in the data dir, or PASSBRIDGE_PEPPER), so a
stolen database alone can neither test pass guesses nor unseal private keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from passbridge import metrics

T = TypeVar("T")

# What the Argon2 hashes running at once in one process may hold between them. Each holds its memory
# cost (19 MiB by default) while it runs; unbounded, the request threadpool (about 40 threads) ran as
# many at once and a worker grew past 400 MiB, which malloc's per-thread arenas never gave back.
HASH_MEMORY_BUDGET_KIB = 96 * 1024


class PepperMissing(Exception):
    """No pepper is configured: the store was never initialised here."""


def create_pepper_file(path: Path) -> None:
    """Write a new random pepper, readable by the owner only. Never overwrites one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")


def read_pepper(path: Path, override: str | None) -> bytes:
    if override:
        return override.encode()
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        raise PepperMissing(f"no pepper at {path}; run 'passbridge init' or set PASSBRIDGE_PEPPER") from None
    if len(value) < 32:
        raise PepperMissing(f"the pepper at {path} is too short to be one Passbridge wrote")
    return value.encode()


def _derive(pepper: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(pepper)


@dataclass(frozen=True)
class Argon2Params:
    memory_kib: int = 19456
    time_cost: int = 2
    parallelism: int = 1


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask on Linux, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def hash_slots(memory_kib: int) -> int:
    """How many Argon2 hashes one process runs at once: one per core it may use (more would only
    queue for the CPU), and no more than HASH_MEMORY_BUDGET_KIB holds."""
    return max(1, min(usable_cores(), HASH_MEMORY_BUDGET_KIB // memory_kib))


def argon2_hasher(params: Argon2Params) -> PasswordHasher:
    """The one Argon2id configuration of pass hashes: the keeper's, and bulk issuing's worker processes'
    (passes/hash_pool.py), so a hash from either verifies the same way."""
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        type=Type.ID,
    )


class _HashThreads:
    """The process's Argon2 hashes run on these few threads and nowhere else. A semaphore alone would
    bound the hashes but not the threads that ran one: glibc gives each thread its own arena, and
    each arena keeps its last 19 MiB block after the hash frees it. Sized by the first keeper."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.size = 0

    def run(self, memory_kib: int, work: Callable[[], T]) -> T:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self.size = hash_slots(memory_kib)
                    self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="passbridge-argon2")
                pool = self._pool
        return pool.submit(work).result()


_hash_threads = _HashThreads()


class SecretKeeper:
    """Every use of the pepper goes through here."""

    def __init__(self, pepper: bytes, params: Argon2Params | None = None) -> None:
        self._hmac_key = _derive(pepper, b"passbridge keyed-hash v1")
        # Keyed once; each hash starts from a copy. hmac.new looked SHA-256 up in OpenSSL's provider
        # tables and keyed it afresh on every call (four times per refresh grant).
        self._keyed = hmac.new(self._hmac_key, digestmod=hashlib.sha256)
        self._argon_pepper = _derive(pepper, b"passbridge argon2 pepper v1")
        self._aead = AESGCM(_derive(pepper, b"passbridge seal v1"))
        self.argon2_params = params or Argon2Params()
        self._memory_kib = self.argon2_params.memory_kib
        self._decoy: str | None = None
        self._argon = argon2_hasher(self.argon2_params)

    # High-entropy secrets (client secrets, session ids, refresh tokens): a keyed SHA-256 is
    # as strong as the secret and costs microseconds.
    def keyed_hash(self, secret: str) -> str:
        keyed = self._keyed.copy()
        keyed.update(secret.encode())
        return keyed.hexdigest()

    def keyed_hash_matches(self, secret: str, stored: str) -> bool:
        return hmac.compare_digest(self.keyed_hash(secret), stored)

    # Low-entropy secrets (passes): Argon2id over an HMAC of the secret, so the hash is useless
    # without the pepper; the parameters travel in the PHC string.
    def _peppered(self, secret: str) -> bytes:
        return hmac.new(self._argon_pepper, secret.encode(), hashlib.sha256).digest()

    def peppered(self, secret: str) -> bytes:
        """What Argon2id hashes for `secret`. Bulk issuing sends this, never the pepper-derived key, to its
        hashing processes: they can hash the passes they are given and nothing else."""
        return self._peppered(secret)

    def slow_hash(self, secret: str) -> str:
        peppered = self._peppered(secret)
        return _hash_threads.run(self._memory_kib, lambda: self._timed_hash(peppered))

    def slow_hash_matches(self, secret: str, stored: str) -> bool:
        peppered = self._peppered(secret)
        return _hash_threads.run(self._memory_kib, lambda: self._verify(stored, peppered))

    def _timed_hash(self, peppered: bytes) -> str:
        with metrics.hash_timer("hash"):
            return self._argon.hash(peppered)

    def _verify(self, stored: str, peppered: bytes) -> bool:
        with metrics.hash_timer("verify"):
            try:
                return bool(self._argon.verify(stored, peppered))
            except (VerificationError, InvalidHashError):
                return False

    def decoy_hash(self) -> str:
        """A hash of nothing anyone knows, at the same parameters: checking a guess against it when
        there is no real hash costs the same time, so timing does not reveal that there was none."""
        if self._decoy is None:
            self._decoy = self.slow_hash(secrets.token_urlsafe(32))
        return self._decoy

    # Sealing: AES-256-GCM for secrets we must read back (private keys, TOTP seeds).
    def seal(self, plaintext: bytes, context: bytes) -> str:
        nonce = secrets.token_bytes(12)
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plaintext, context)).decode()

    def unseal(self, sealed: str, context: bytes) -> bytes:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return self._aead.decrypt(raw[:12], raw[12:], context)


def new_client_secret() -> str:
    # 240 bits, URL-safe: fits in a form body or an Authorization header unescaped.
    return secrets.token_urlsafe(30)
