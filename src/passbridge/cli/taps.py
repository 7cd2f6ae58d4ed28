"""`passbridge taps ...` (see the Graph API for the same operations)."""

from __future__ import annotations
