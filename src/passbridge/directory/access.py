"""Permission checks shared by the services.

Application callers need one of the named application permissions. Operators (the CLI on the
host, which holds the data directory and so every secret) may do anything.
"""

from __future__ import annotations

from passbridge.domain.errors import PermissionDenied
from passbridge.services.context import Principal


def require_app_permission(principal: Principal, *any_of: str) -> None:
    if principal.is_operator:
        return
    if principal.kind == "application" and principal.app_permissions.intersection(any_of):
        return
    if principal.kind == "user" and principal.scopes.intersection(any_of):
        return
    raise PermissionDenied(
        "Insufficient privileges to complete the operation. Requires one of: " + ", ".join(any_of) + "."
    )


def require_operator(principal: Principal, what: str) -> None:
    if not principal.is_operator:
        raise PermissionDenied(f"Insufficient privileges to {what}; only an operator may.")
