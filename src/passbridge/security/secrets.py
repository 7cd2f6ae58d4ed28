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
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class PepperMissing(Exception):
    """No pepper is configured: the store was never initialised here."""


def create_pepper_file(path: Path) -> None:
    """Write a new random pepper, readable by the owner only. Never overwrites one."""
    path.parent.mkdir(parents=True, exist_ok=True)
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


class SecretKeeper:
    """Every use of the pepper goes through here."""

    def __init__(self, pepper: bytes, params: Argon2Params | None = None) -> None:
        self._hmac_key = _derive(pepper, b"passbridge keyed-hash v1")
        # Keyed once; each hash starts from a copy. hmac.new looked SHA-256 up in OpenSSL's provider
        # tables and keyed it afresh on every call (four times per refresh grant).
        self._keyed = hmac.new(self._hmac_key, digestmod=hashlib.sha256)
        self._argon_pepper = _derive(pepper, b"passbridge argon2 pepper v1")
        self._aead = AESGCM(_derive(pepper, b"passbridge seal v1"))
        p = params or Argon2Params()
        self._decoy: str | None = None
        self._argon = PasswordHasher(
            time_cost=p.time_cost, memory_cost=p.memory_kib, parallelism=p.parallelism, type=Type.ID
        )

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

    def slow_hash(self, secret: str) -> str:
        return self._argon.hash(self._peppered(secret))

    def slow_hash_matches(self, secret: str, stored: str) -> bool:
        try:
            return self._argon.verify(stored, self._peppered(secret))
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
