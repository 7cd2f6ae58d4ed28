"""`passbridge`: the operator's command line. Every command calls the same services as the API."""

from __future__ import annotations

from passbridge.cli import (  # noqa: F401  (registers the commands)
    approvals,
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
    recovery,
    server,
    strengths,
    taps,
)
from passbridge.cli.base import main, root

__all__ = ["main", "root"]
