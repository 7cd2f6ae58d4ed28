"""The OpenAPI document: request bodies and the bearer scheme that FastAPI cannot infer.

Graph routes read their bodies themselves (graph/body.py) so that @odata annotations and Graph's error
body are handled in one place; FastAPI therefore sees no body parameter. `body(Model)` declares it for
the document, and `install` publishes the models and the bearer scheme.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

_MODELS: list[type[BaseModel]] = []
REF = "#/components/schemas/{model}"


def body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body is `model`."""
    if model not in _MODELS:
        _MODELS.append(model)
    schema = {"$ref": REF.format(model=model.__name__)}
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def install(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = spec.setdefault("components", {})
            _, defs = models_json_schema([(m, "validation") for m in _MODELS], ref_template=REF)
            components.setdefault("schemas", {}).update(defs.get("$defs", {}))
            components["securitySchemes"] = {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from /oauth2/v2.0/token",
                }
            }
            for path, operations in spec.get("paths", {}).items():
                if path.startswith(("/v1.0/", "/beta/")):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
