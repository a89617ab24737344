"""The OpenAPI document (``/api/v1/openapi.json``), completed to tell the truth.

FastAPI documents each operation's success and a 422 in its own shape.
:func:`install` completes the document once, when it is first asked for:
every error an operation can answer is listed as
``application/problem+json`` with the :class:`~dnsgate.api.schemas.Problem`
schema, and the bearer scheme is the document's security requirement (an
operation without a credential, the password sign-in, says ``security: []``).

======  =====================================================================
status  listed for
======  =====================================================================
401     every operation (a missing or refused credential; at sign-in, a wrong
        password); with ``WWW-Authenticate``
403     every operation (a denial by scope, role, account state, address)
404     operations that name a zone or row (a path parameter, a ``zone`` or
        ``*_id`` query parameter or body field) that may be unknown or not
        the caller's, and those that declare it
409     operations that declare it (``responses=problems(409)``)
413     operations with a request body (the edge's size limit)
422     operations with a parameter or a body
429     writes (POST, PUT, PATCH, DELETE), with ``Retry-After``
502     operations that declare it (a backend failed)
503     every operation (the database's write lock could not be had; an API
        key's use is a write), with ``Retry-After``
504     operations that declare 502 (a backend timed out: the change may
        still land, read it again)
======  =====================================================================

A 405 is no operation's answer (the method is not in the document); it
carries ``Allow`` (``api.errors``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from dnsgate.api.errors import PROBLEM
from dnsgate.api.schemas import Problem

DESCRIPTIONS: dict[int, str] = {
    401: "Missing or invalid credentials",
    403: "Not allowed for this credential",
    404: "Not found, or not visible to this credential",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid input",
    429: "Rate limited; retry after Retry-After seconds",
    502: "The DNS backend failed",
    503: "The database is busy; retry after Retry-After seconds",
    504: "The DNS backend timed out; the change may still land: read the RRset again",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait",
                                "schema": {"type": "integer"}}}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "the scheme to authenticate with",
                               "schema": {"type": "string"}}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
_WRITES = frozenset({"post", "put", "patch", "delete"})
SECURITY_SCHEME = "bearer"
#: ``openapi_extra`` of an operation that takes no credential.
ANONYMOUS: dict[str, Any] = {"security": []}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: errors it can answer beyond the rules above."""
    return {status: {"description": DESCRIPTIONS[status]} for status in statuses}


def install(app: FastAPI) -> None:
    """Complete the app's OpenAPI document on first use (it is cached after)."""
    generate = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(generate())
        return app.openapi_schema or {}

    app.openapi = document  # type: ignore[method-assign]


def _names_a_row(name: str) -> bool:
    return name == "zone" or (name.endswith("_id") and name != "before_id")


def _body_fields(operation: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """The top-level fields of an operation's JSON body (a component schema)."""
    content = operation.get("requestBody", {}).get("content", {})
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    return set(schemas.get(ref.rpartition("/")[2], {}).get("properties", {}))


def statuses_of(method: str, operation: dict[str, Any],
                schemas: dict[str, Any] | None = None) -> set[int]:
    """The error statuses an operation answers, by the rules of the table above."""
    declared = {int(s) for s in operation.get("responses", {}) if s.isdigit()}
    found = {401, 403, 503} | {s for s in declared if s >= 400}
    parameters = operation.get("parameters", [])
    if (any(p.get("in") == "path" or _names_a_row(p.get("name", "")) for p in parameters)
            or any(_names_a_row(f) for f in _body_fields(operation, schemas or {}))):
        found.add(404)
    if parameters or "requestBody" in operation:
        found.add(422)
    if "requestBody" in operation:
        found.add(413)
    if method in _WRITES:
        found.add(429)
    if 502 in found:
        found.add(504)
    return found


def complete(schema: dict[str, Any]) -> None:
    """Add the problem responses and the security scheme to a generated document."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http", "scheme": "bearer",
        "description": "a realm token (dg_...) or an account API key (dgk_...)"}
    schema["security"] = [{SECURITY_SCHEME: []}]
    problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in sorted(statuses_of(method, operation, schemas)):
                entry = responses.setdefault(str(status), {})
                entry["description"] = DESCRIPTIONS.get(status, entry.get("description", ""))
                entry["content"] = problem
                if status in _HEADERS:
                    entry["headers"] = _HEADERS[status]
            operation["responses"] = dict(sorted(responses.items()))
    if not any("HTTPValidationError" in str(item) for item in schema.get("paths", {}).values()):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
