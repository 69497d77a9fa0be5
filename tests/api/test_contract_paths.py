"""Every method + path + query parameter of the contract exists in /openapi.json."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

# (method, path) -> query parameters the contract lists for it
CONTRACT: dict[tuple[str, str], set[str]] = {
    ("GET", "/health"): set(),
    ("GET", "/api/v1/status"): set(),
    ("POST", "/api/v1/jobs"): set(),
    ("POST", "/api/v1/jobs/batch"): set(),
    ("GET", "/api/v1/jobs/{job_id}/status"): set(),
    ("GET", "/api/v1/jobs/{job_id}/result"): {"include_artifacts", "include_logs"},
    ("GET", "/api/v1/jobs/{job_id}/logs"): {"level", "since", "tail", "follow"},
    ("DELETE", "/api/v1/jobs/{job_id}"): set(),
    ("GET", "/api/v1/jobs"): {"status", "task_type", "scorer", "limit", "offset", "sort", "order"},
    ("GET", "/api/v1/scorers"): {"task_type", "format", "include_details"},
    ("GET", "/api/v1/scorers/{scorer_name}"): {"version", "include_examples"},
    ("POST", "/api/v1/scorers/{scorer_name}/test"): set(),
    ("POST", "/api/v1/scorers/load"): set(),
    ("POST", "/api/v1/scorers/reload"): set(),
    ("POST", "/api/v1/scorers/watch"): set(),
    ("DELETE", "/api/v1/scorers/watch"): {"file_path"},
    ("GET", "/api/v1/scorers/watch"): set(),
    ("POST", "/api/v1/workspaces/validate"): set(),
    ("POST", "/api/v1/workspaces/init"): set(),
    ("GET", "/api/v1/config"): {"section", "include_defaults"},
    ("PUT", "/api/v1/config"): set(),
    ("POST", "/api/v1/jobs/batch/status"): set(),
    ("DELETE", "/api/v1/jobs/batch"): set(),
}

# The contract is kept beside the repository (``../shared/seed``) where it is available.
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "api-reference.md"
_HTTP_BLOCK = re.compile(r"```http\n(GET|POST|PUT|DELETE|PATCH) (/\S*)")


def test_table_matches_the_contract_document() -> None:
    if not SEED.is_file():
        pytest.skip(f"contract document not present at {SEED}")
    found = set(_HTTP_BLOCK.findall(SEED.read_text(encoding="utf-8")))
    assert found == set(CONTRACT)


def test_every_contract_operation_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    missing = []
    for (method, path), query in CONTRACT.items():
        operation = spec["paths"].get(path, {}).get(method.lower())
        if operation is None:
            missing.append(f"{method} {path}")
            continue
        params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert query <= params, f"{method} {path} lacks query {sorted(query - params)}"
    assert not missing


def test_openapi_documents_the_envelope_and_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"ErrorEnvelope", "ErrorPublic", "MetaPublic"} <= set(schemas)
    status = spec["paths"]["/api/v1/status"]["get"]["responses"]
    assert {"200", "401", "403", "429", "500"} <= set(status)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200
