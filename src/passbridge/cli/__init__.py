"""`passbridge`: the operator's command line. Every command calls the same services as the API."""

from __future__ import annotations

from passbridge.cli import apps, bulk, directory, keys, methods, policy, server, taps  # noqa: F401  (registers the commands)
from passbridge.cli.base import main, root

__all__ = ["main", "root"]
