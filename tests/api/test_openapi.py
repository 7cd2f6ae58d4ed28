"""The OpenAPI document describes the whole API: every Graph path, its bodies and its bearer scheme."""

from __future__ import annotations

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient


def test_openapi_lists_every_graph_route_with_bearer_security(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    # Every route as served: flat on the app (the fast path) or inside included routers (without it).
    served = {
        (route.path, method.lower())
        for route in iter_route_contexts(api.app.routes)  # type: ignore[attr-defined]
        if getattr(route, "include_in_schema", False) and route.path.startswith(("/v1.0/", "/beta/"))
        for method in route.methods or ()
    }
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert served and served <= documented
    for path, method in served:
        assert spec["paths"][path][method]["security"] == [{"bearer": []}], (path, method)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_openapi_documents_request_bodies_with_graph_names(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    create_pass = spec["paths"]["/v1.0/users/{user_id}/authentication/temporaryAccessPassMethods"]["post"]
    ref = create_pass["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    properties = schemas[ref.rsplit("/", 1)[-1]]["properties"]
    assert {"startDateTime", "lifetimeInMinutes", "isUsableOnce"} <= set(properties)
    create_user = spec["paths"]["/beta/users"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "userPrincipalName" in schemas[create_user["$ref"].rsplit("/", 1)[-1]]["properties"]
    policy = spec["paths"][
        "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{config_id}"
    ]["patch"]
    assert policy["requestBody"]["required"] is True
