"""Without the job service in the tree, every job endpoint answers 503, not a crash."""

from __future__ import annotations

import importlib.util

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("autoscorer.jobs.service") is not None,
    reason="the job service is installed; the job route tests cover it",
)

CALLS = [
    ("POST", "/api/v1/jobs", {"workspace_path": "cls"}),
    ("POST", "/api/v1/jobs/batch", {"jobs": [{"workspace_path": "cls"}]}),
    ("POST", "/api/v1/jobs/batch/status", {"job_ids": ["a"]}),
    ("DELETE", "/api/v1/jobs/batch", {"job_ids": ["a"]}),
    ("GET", "/api/v1/jobs", None),
    ("GET", "/api/v1/jobs/a/status", None),
    ("GET", "/api/v1/jobs/a/result", None),
    ("GET", "/api/v1/jobs/a/logs", None),
    ("DELETE", "/api/v1/jobs/a", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_job_endpoints_answer_503(h, client: TestClient, method: str, path: str, body) -> None:
    resp = client.request(method, path, json=body)
    err = h.check_error(resp, 503, "SERVICE_UNAVAILABLE")["errors"][0]
    assert err["details"]["component"] == "jobs"


def test_health_reports_the_missing_store(h, client: TestClient) -> None:
    data = h.data_of(client.get("/health"))
    assert data["status"] == "unhealthy" and data["components"]["database"] == "unavailable"
