"""Random identifiers: the GUIDs Graph and Entra put on objects, tokens and requests."""

from __future__ import annotations

import os


def new_guid() -> str:
    """A random (version 4) UUID in its canonical lowercase form, as `str(uuid.uuid4())` gives it.

    Built from the 16 random bytes directly: a token grant makes four of these, and uuid.UUID's
    constructor and __str__ cost about twice the work."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
