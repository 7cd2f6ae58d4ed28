"""SCIM's error body (RFC 7644 §3.12) for everything /scim/v2 refuses, and the mapping from our errors."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from scim2_models import Error, SCIMException
from starlette.responses import Response

from passbridge.domain.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from passbridge.tokens.service import TokenRejected

MEDIA_TYPE = "application/scim+json"


class ScimError(Exception):
    """A refusal with its HTTP status and, for 400s and 409s, one of Table 9's scimTypes."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


def scim_json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    error = Error(status=status, detail=detail, scim_type=scim_type)
    return error.model_dump(scim_ctx=None, exclude_none=True, by_alias=True) | {"status": str(status)}


def error_response(exc: ScimError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if exc.status == 401 else None
    return scim_json(error_body(exc.status, exc.detail, exc.scim_type), exc.status, headers)


def _first_problem(exc: ValidationError) -> str:
    problems = exc.errors()
    if not problems:
        return "invalid value"
    where = ".".join(str(p) for p in problems[0]["loc"])
    message = str(problems[0]["msg"])
    return f"{where}: {message}" if where else message


def as_scim_error(exc: Exception) -> ScimError | None:
    """Our error for a refusal raised below the edge; None for anything unexpected (a 500)."""
    if isinstance(exc, ScimError):
        return exc
    if isinstance(exc, TokenRejected):
        return ScimError(401, exc.message)
    if isinstance(exc, NotFound):
        return ScimError(404, exc.message)
    if isinstance(exc, PermissionDenied):
        return ScimError(403, exc.message)
    if isinstance(exc, Conflict):
        return ScimError(409, exc.message, "uniqueness")
    if isinstance(exc, InvalidInput | DomainError):
        return ScimError(400, exc.message, "invalidValue")
    if isinstance(exc, SCIMException):
        return ScimError(exc.status, exc.detail, exc.scim_type or None)
    if isinstance(exc, ValidationError):
        # scim2-models raises its protocol errors inside pydantic's validation; keep their scimType.
        for problem in exc.errors():
            scim_type = (problem.get("ctx") or {}).get("scim_type")
            if scim_type:
                return ScimError(int(problem["ctx"].get("status", 400)), str(problem["msg"]), scim_type)
        return ScimError(400, _first_problem(exc), "invalidValue")
    return None
