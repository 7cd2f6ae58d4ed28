"""Request bodies as Graph clients send them: JSON, OData annotations, no unknown properties.

Every Graph body is read here, so the limits that keep bad input a 400 instead of a 500 live here too:
the size, JSON itself (a number past Python's int-string limit raises ValueError, nesting past the
interpreter's recursion limit RecursionError), MAX_DEPTH (no Graph body nests deeper than a few levels,
and later code that walks a body recursively must not meet a deep one), JSON's non-standard constants
(NaN, Infinity), and strings no database can store (domain/text.py), in property names and values alike.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from passbridge.domain.text import unstorable_reason
from passbridge.graph.errors import GraphError

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32  # objects and arrays within each other, the body itself counting as one
M = TypeVar("M", bound=BaseModel)
UNREADABLE = (
    "Unable to read JSON request payload. Please ensure "
    "Content-Type header is set and payload is of valid JSON format."
)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _unreadable(reason: str | None = None) -> GraphError:
    # Graph's words for a body it cannot read; the reason, where ours, after them.
    return GraphError(400, "BadRequest", UNREADABLE if reason is None else f"{UNREADABLE} {reason}")


def check_values(data: object) -> None:
    """Refuse a parsed body nested deeper than MAX_DEPTH or holding a string no database can store.
    Iterative, so the check itself cannot exhaust the stack; names the property, never the value."""
    pending: list[tuple[object, int, str]] = [(data, 1, "")]
    while pending:
        value, depth, where = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _unreadable(f"It nests objects and arrays deeper than {MAX_DEPTH} levels.")
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for key, item in items:
                if key is None:
                    pending.append((item, depth + 1, where))
                    continue
                reason = unstorable_reason(key)
                if reason is not None:
                    raise GraphError(400, "badRequest", f"A property name contains {reason}.")
                pending.append((item, depth + 1, f"{where}.{key}" if where else key))
        elif isinstance(value, str):
            reason = unstorable_reason(value)
            if reason is not None:
                raise GraphError(
                    400,
                    "badRequest",
                    f"Invalid value for property '{where or 'body'}': it contains {reason}, "
                    "which is not valid text.",
                )


async def read_json(request: Request, *, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    if len(raw) > limit:
        raise GraphError(413, "RequestEntityTooLarge", f"The request body exceeds {limit} bytes.")
    if not raw.strip():
        return {}
    if content_type and content_type.split(";")[0].strip().lower() != "application/json":
        raise GraphError(
            415,
            "UnsupportedMediaType",
            f"Content-Type '{content_type}' is not supported; send application/json.",
        )
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise _unreadable(f"It nests objects and arrays deeper than {MAX_DEPTH} levels.") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, the int-string limit, NaN/Infinity
        raise _unreadable() from None
    if not isinstance(data, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    check_values(data)
    return data


def strip_annotations(data: dict[str, Any], *, accepted_types: tuple[str, ...]) -> dict[str, Any]:
    """Check `@odata.type` names this resource (or a base type); drop every `@odata.*` annotation."""
    odata_type = data.get("@odata.type")
    if odata_type is not None:
        wanted = {t.lstrip("#").casefold() for t in accepted_types}
        if not isinstance(odata_type, str) or odata_type.lstrip("#").casefold() not in wanted:
            raise GraphError(
                400,
                "badRequest",
                f"The @odata.type '{odata_type}' does not match this resource; expected {accepted_types[0]}.",
            )
    return {k: v for k, v in data.items() if not k.startswith("@odata.") and "@odata." not in k}


async def parse(request: Request, model: type[M], *, accepted_types: tuple[str, ...] = ()) -> M:
    data = strip_annotations(await read_json(request), accepted_types=accepted_types)
    try:
        return model.model_validate(data)
    except OverflowError:
        # A validator's arithmetic past the calendar (a time at year 9999 moved to UTC).
        raise GraphError(400, "badRequest", "A date or number in the request body is out of range.") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"Invalid property '{field}' for this resource."
        else:
            message = f"Invalid value for property '{field}': {first['msg']}."
        raise GraphError(400, "badRequest", message) from None
