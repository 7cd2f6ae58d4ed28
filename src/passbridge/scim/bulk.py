"""/Bulk (RFC 7644 §3.7): up to 50 operations (as Entra's bulkUpload), each in its own transaction.

An operation may name a resource another one creates as `bulkId:<id>`, in its path or anywhere in its
data; operations run in order, and one whose reference is not created yet waits until it is (RFC 7644
§3.7.1 lets a client order them freely). A reference that is never created, or a cycle, fails that
operation alone. `failOnErrors` stops after that many failures.
"""

from __future__ import annotations

import re
from typing import Any

from passbridge.scim.errors import ScimError, as_scim_error, error_body
from passbridge.scim.schemas import MAX_OPERATIONS
from passbridge.scim.service import ScimService
from passbridge.services.context import Env, Principal

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_REFERENCE = re.compile(r"bulkId:([A-Za-z0-9._~-]+)")
_PATH = re.compile(r"^/(Users|Groups)(?:/([^/]+))?$")


class _Waiting(Exception):
    """The operation names a bulkId not created yet."""


def _resolve(value: Any, created: dict[str, str]) -> Any:
    if isinstance(value, str):

        def swap(match: re.Match[str]) -> str:
            if match.group(1) not in created:
                raise _Waiting(match.group(1))
            return created[match.group(1)]

        return _REFERENCE.sub(swap, value)
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    return value


def _run_one(
    env: Env, principal: Principal, base: str, operation: dict[str, Any], created: dict[str, str]
) -> dict[str, Any]:
    method = str(operation.get("method") or "").upper()
    bulk_id = operation.get("bulkId")
    path = _resolve(str(operation.get("path") or ""), created)
    data = _resolve(operation.get("data"), created)
    version = operation.get("version")
    match = _PATH.match(path)
    if method not in ("POST", "PUT", "PATCH", "DELETE"):
        raise ScimError(400, f"Unknown bulk method '{operation.get('method')}'.", "invalidSyntax")
    if match is None:
        raise ScimError(400, f"'{path}' is not a Users or Groups path.", "invalidPath")
    collection, resource_id = match.group(1), match.group(2)
    if (method == "POST") != (resource_id is None):
        raise ScimError(
            400, f"{method} needs {'a collection' if method == 'POST' else 'a resource'} path.", "invalidPath"
        )
    if method == "POST" and not bulk_id:
        raise ScimError(400, "A bulk POST needs a bulkId.", "invalidValue")
    user = collection == "Users"
    with env.db.transaction("write") as tx:
        service = ScimService(tx, env, principal, base)
        if method == "POST":
            document = service.create_user(data) if user else service.create_group(data)
            status = 201
        elif method == "PUT":
            assert resource_id is not None
            replace = service.replace_user if user else service.replace_group
            document = replace(resource_id, data, version)
            status = 200
        elif method == "PATCH":
            assert resource_id is not None
            patch = service.patch_user if user else service.patch_group
            document = patch(resource_id, data, version)
            status = 200
        else:
            assert resource_id is not None
            (service.delete_user if user else service.delete_group)(resource_id, version)
            return {"method": method, "location": f"{base}/{collection}/{resource_id}", "status": "204"}
    if bulk_id:
        created[str(bulk_id)] = document["id"]
    answer = {
        "method": method,
        "location": document["meta"]["location"],
        "version": document["meta"]["version"],
    }
    if bulk_id:
        answer["bulkId"] = bulk_id
    answer["status"] = str(status)
    return answer


def _failed(operation: dict[str, Any], error: ScimError) -> dict[str, Any]:
    answer: dict[str, Any] = {"method": str(operation.get("method") or "").upper()}
    if operation.get("bulkId"):
        answer["bulkId"] = operation["bulkId"]
    answer["status"] = str(error.status)
    answer["response"] = error_body(error.status, error.detail, error.scim_type)
    return answer


def run_bulk(env: Env, principal: Principal, base: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or BULK_REQUEST not in (body.get("schemas") or []):
        raise ScimError(400, f"A bulk body must name the schema {BULK_REQUEST}.", "invalidSyntax")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise ScimError(400, "Operations must be a list of operations.", "invalidSyntax")
    if len(operations) > MAX_OPERATIONS:
        raise ScimError(413, f"A bulk request holds at most {MAX_OPERATIONS} operations.")
    fail_on = body.get("failOnErrors")
    if fail_on is not None and (not isinstance(fail_on, int) or isinstance(fail_on, bool) or fail_on < 1):
        raise ScimError(400, "failOnErrors must be a positive integer.", "invalidValue")
    created: dict[str, str] = {}
    results: dict[int, dict[str, Any]] = {}
    pending = list(range(len(operations)))
    failures = 0
    while pending:
        waiting: list[int] = []
        for index in pending:
            if fail_on is not None and failures >= fail_on:
                break
            try:
                results[index] = _run_one(env, principal, base, operations[index], created)
            except _Waiting:
                waiting.append(index)
            except Exception as exc:
                error = as_scim_error(exc)
                if error is None:
                    raise
                results[index] = _failed(operations[index], error)
                failures += 1
        if fail_on is not None and failures >= fail_on:
            break
        if len(waiting) == len(pending):
            for index in waiting:
                reference = ScimError(
                    409, "The operation names a bulkId no operation created.", "invalidValue"
                )
                results[index] = _failed(operations[index], reference)
            break
        pending = waiting
    return {"schemas": [BULK_RESPONSE], "Operations": [results[i] for i in sorted(results)]}
