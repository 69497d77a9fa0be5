"""The OpenAPI document: current on disk, examples valid, responses true to their schemas.

- ``docs/openapi.json`` is what ``python -m autoscorer.api.openapi`` prints (drift check);
- every example in the document (the contract's, completed) is a valid instance of the
  schema it illustrates;
- a realistic session (sync and async submits, a failed job, batches, logs, scorers,
  workspaces, config) gets answers that validate against the documented schema of their
  operation and status, and every key they hold is documented (no silent extras).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]
CHECKED_IN = REPO / "docs" / "openapi.json"


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"components": doc["components"], **schema})


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def undocumented(doc: dict[str, Any], schema: dict[str, Any], value: Any, at: str) -> list[str]:
    """Keys of ``value`` its (resolved) schema does not name, where the schema names keys."""
    schema = resolve(doc, schema)
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            if validator(doc, option).is_valid(value):
                return undocumented(doc, option, value, at)
        return []
    found: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                found += undocumented(doc, props[key], sub, f"{at}.{key}")
            elif props:
                found.append(f"{at}.{key}")
            elif isinstance(extra, dict):
                found += undocumented(doc, extra, sub, f"{at}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found += undocumented(doc, schema["items"], item, f"{at}[{i}]")
    return found


def operation_for(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    raise AssertionError(f"{method} {path} is not documented")


def test_checked_in_document_is_current() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
    built = subprocess.run(
        [sys.executable, "-m", "autoscorer.api.openapi"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert json.loads(built) == json.loads(CHECKED_IN.read_text()), (
        "docs/openapi.json is stale: run scripts/openapi"
    )


def test_every_example_is_a_valid_instance(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    checked = 0
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            bodies = [operation.get("requestBody", {})]
            bodies += list(operation["responses"].values())
            for holder in bodies:
                media = holder.get("content", {}).get("application/json", {})
                for name, example in media.get("examples", {}).items():
                    errors = list(validator(doc, media["schema"]).iter_errors(example["value"]))
                    assert not errors, f"{method} {path} example {name}: {errors[0].message}"
                    checked += 1
    assert checked >= 150  # every error status of every operation, plus the contract's


def session(client: TestClient) -> list[tuple[str, str, Any]]:
    """(method, path, response) of a realistic use of every operation."""
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/jobs", {"json": {"workspace_path": "cls", "job_id": "done-1"}}),
        ("POST", "/api/v1/jobs", {"json": {"workspace_path": "cls", "async": True}}),
        (
            "POST",
            "/api/v1/jobs",
            {"json": {"workspace_path": "cls", "config": {"scorer_params": {"average": "x"}}}},
        ),
        ("GET", "/api/v1/jobs/done-1/status", {}),
        ("GET", "/api/v1/jobs/done-1/result", {"params": {"include_logs": True}}),
        ("GET", "/api/v1/jobs/done-1/result", {"params": {"include_artifacts": False}}),
        ("GET", "/api/v1/jobs/done-1/logs", {"params": {"tail": 2}}),
        ("GET", "/api/v1/jobs", {"params": {"limit": 2}}),
        ("POST", "/api/v1/jobs/batch", {"json": {"jobs": [{"workspace_path": "cls"}]}}),
        ("POST", "/api/v1/jobs/batch/status", {"json": {"job_ids": ["done-1"]}}),
        (
            "POST",
            "/api/v1/jobs/batch/status",
            {"json": {"job_ids": ["done-1"], "include_progress": False}},
        ),
        ("DELETE", "/api/v1/jobs/batch", {"json": {"job_ids": ["done-1"]}}),
        ("DELETE", "/api/v1/jobs/done-1", {}),
        ("GET", "/api/v1/jobs/nope/status", {}),
        ("GET", "/health", {}),
        ("GET", "/api/v1/status", {}),
        ("GET", "/api/v1/scorers", {"params": {"include_details": True}}),
        ("GET", "/api/v1/scorers", {"params": {"format": "table"}}),
        ("GET", "/api/v1/scorers/classification_f1", {}),
        ("POST", "/api/v1/scorers/classification_f1/test", {"json": {"workspace_path": "cls"}}),
        (
            "POST",
            "/api/v1/scorers/classification_f1/test",
            {"json": {"workspace_path": "cls", "validate_only": True}},
        ),
        ("GET", "/api/v1/scorers/watch", {}),
        ("POST", "/api/v1/workspaces/validate", {"json": {"workspace_path": "cls"}}),
        ("POST", "/api/v1/workspaces/validate", {"json": {"workspace_path": "nope"}}),
        ("POST", "/api/v1/workspaces/init", {"json": {"workspace_path": "fresh"}}),
        ("GET", "/api/v1/config", {}),
        ("GET", "/api/v1/config", {"params": {"section": "api", "include_defaults": False}}),
        ("PUT", "/api/v1/config", {"json": {"section": "logging", "config": {"level": "INFO"}}}),
        ("POST", "/api/v1/jobs", {"json": {"workspace_path": "~other"}}),
    ]
    return [(m, p, client.request(m, p, **kw)) for m, p, kw in calls]


def test_responses_match_their_documented_schema(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    statuses = set()
    for method, path, resp in session(client):
        operation = operation_for(doc, method, path)
        documented = operation["responses"].get(str(resp.status_code))
        assert documented, f"{method} {path}: status {resp.status_code} is not documented"
        schema = documented["content"]["application/json"]["schema"]
        body = resp.json()
        errors = list(validator(doc, schema).iter_errors(body))
        assert not errors, f"{method} {path} {resp.status_code}: {errors[0].message} at " + str(
            list(errors[0].absolute_path)
        )
        extra = undocumented(doc, schema, body, "")
        assert not extra, f"{method} {path}: undocumented keys {extra}"
        statuses.add(resp.status_code)
    assert {200, 201, 202, 400, 404} <= statuses


@pytest.mark.parametrize("operation_id", ["submitJob", "getJobStatus", "getJobResult"])
def test_operation_ids_are_the_sdk_names(client: TestClient, operation_id: str) -> None:
    from autoscorer.client import AutoScorerClient

    doc = client.get("/openapi.json").json()
    ids = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    assert operation_id in ids
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), operation_id)
    assert hasattr(AutoScorerClient, snake)
