"""Errors the rules raise. Each edge (Graph API, pages, CLI) renders them in its own shape."""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse. `message` is safe to show: it never holds a secret."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """A value is malformed or out of range (Graph: 400 badRequest)."""


class NotFound(DomainError):
    """The named object does not exist (Graph: 404)."""

    def __init__(self, message: str, *, kind: str = "resource") -> None:
        super().__init__(message)
        self.kind = kind


class Conflict(DomainError):
    """The request clashes with existing data, such as a duplicate name (Graph: 400/409)."""


class PermissionDenied(DomainError):
    """The caller lacks the permission or role (Graph: 403)."""


class AlreadyInitialised(DomainError):
    """`init` on a store that already holds a tenant."""


class NotInitialised(DomainError):
    """The store has no tenant yet."""
