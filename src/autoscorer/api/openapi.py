"""The OpenAPI document: short operation ids, tags, auth, error responses and examples.

Operation ids are the SDK's method names in camelCase (``submitJob`` ->
``client.submit_job`` / ``client.submitJob``), so generated clients read like the SDKs.
Every operation documents the error envelope for each error status with an example;
the contract's request and response examples (``api-reference.md``, completed with the
fields the server always sends) are attached from :mod:`autoscorer.api.examples`.
``python -m autoscorer.api.openapi`` prints the document (``docs/openapi.json``).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from autoscorer.api import examples
from autoscorer.api.schemas.fields import JSON_VALUE_SCHEMAS

# Route function name -> operation id, where camelCase of the name is not the SDK's name.
RENAMED = {
    "job_status": "getJobStatus",
    "job_result": "getJobResult",
    "job_logs": "getJobLogs",
    "job_artifact": "getJobArtifact",
    "create_workspace": "initWorkspace",
    "read_config": "getConfig",
    "status": "getSystemStatus",
    "health": "getHealth",
    "metrics": "getMetrics",
}
TAGS = [
    {"name": "system", "description": "Health, status, metrics"},
    {"name": "jobs", "description": "Submit, follow, read and cancel scoring jobs"},
    {"name": "scorers", "description": "List, inspect and test scorers; load custom ones"},
    {"name": "workspaces", "description": "Validate and create workspaces"},
    {"name": "config", "description": "Read and change the server's settings"},
]
ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "422", "429", "500", "503")
OPEN_PATHS = {"/health"}
SCHEME = "HTTPBearer"


def operation_id(route: APIRoute) -> str:
    """``submit_job`` -> ``submitJob``; see :data:`RENAMED`."""
    if route.name in RENAMED:
        return RENAMED[route.name]
    head, *rest = route.name.split("_")
    return head + "".join(part.title() for part in rest)


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    doc["components"]["schemas"].update(JSON_VALUE_SCHEMAS)
    # The scheme api/deps.py declares (HTTPBearer); keys are optional when none is configured.
    doc.setdefault("components", {}).setdefault("securitySchemes", {}).setdefault(
        SCHEME, {"type": "http", "scheme": "bearer"}
    )
    for path, item in doc["paths"].items():
        for operation in item.values():
            _decorate(path, operation)
    return doc


def _decorate(path: str, operation: dict[str, Any]) -> None:
    operation["security"] = [] if path in OPEN_PATHS else [{}, {SCHEME: []}]
    responses = operation["responses"]
    for status in ERROR_STATUSES:
        if status in responses:
            content = responses[status].setdefault("content", {}).setdefault("application/json", {})
            content["examples"] = examples.error_examples(status)
    responses.pop("405", None)  # only for methods a path does not have: not an operation's
    found = examples.OPERATIONS.get(operation["operationId"], {})
    if "request" in found and "requestBody" in operation:
        body = operation["requestBody"]["content"]["application/json"]
        body["examples"] = found["request"]
    for status, named in found.get("responses", {}).items():
        content = responses[status].setdefault("content", {}).setdefault("application/json", {})
        content["examples"] = named


def install(app: FastAPI) -> None:
    """Serve :func:`build`'s document at ``/openapi.json`` (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def main() -> None:
    from autoscorer.api.main import create_app
    from autoscorer.settings import Settings

    # Defaults only, never the environment: the document must not depend on who builds it.
    doc = create_app(Settings.model_construct()).openapi()
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


if __name__ == "__main__":
    main()
