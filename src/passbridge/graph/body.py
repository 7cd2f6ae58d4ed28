"""Request bodies as Graph clients send them: JSON, OData annotations, no unknown properties."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from passbridge.graph.errors import GraphError

MAX_BODY_BYTES = 64 * 1024
M = TypeVar("M", bound=BaseModel)


async def read_json(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise GraphError(413, "RequestEntityTooLarge", f"The request body exceeds {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        return {}
    if content_type and content_type.split(";")[0].strip().lower() != "application/json":
        raise GraphError(
            415,
            "UnsupportedMediaType",
            f"Content-Type '{content_type}' is not supported; send application/json.",
        )
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GraphError(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure "
            "Content-Type header is set and payload is of valid JSON format.",
        ) from None
    if not isinstance(data, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
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
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"Invalid property '{field}' for this resource."
        else:
            message = f"Invalid value for property '{field}': {first['msg']}."
        raise GraphError(400, "badRequest", message) from None
