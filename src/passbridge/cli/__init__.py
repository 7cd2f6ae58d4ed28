"""`passbridge`: the operator's command line. Every command calls the same services as the API."""

from __future__ import annotations

from passbridge.cli import (  # noqa: F401  (registers the commands)
    apps,
    backup,
    bulk,
    directory,
    joiner,
    keys,
    mail,
    methods,
    passkey_profiles,
    policy,
    provisioning,
    server,
    taps,
)
from passbridge.cli.base import main, root

__all__ = ["main", "root"]
