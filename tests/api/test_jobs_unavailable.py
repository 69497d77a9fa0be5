"""A job store that cannot be reached at start-up: the API still starts and serves what
needs no store, every job endpoint answers 503, and ``/health`` says unhealthy.
(Replaces ten tests that always skipped: they covered a tree without the job service.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import free_port

CALLS = [
    ("POST", "/api/v1/jobs", {"workspace_path": "cls"}),
    ("POST", "/api/v1/jobs/batch", {"jobs": [{"workspace_path": "cls"}]}),
    ("POST", "/api/v1/jobs/batch/status", {"job_ids": ["a"]}),
    ("DELETE", "/api/v1/jobs/batch", {"job_ids": ["a"]}),
    ("GET", "/api/v1/jobs", None),
    ("GET", "/api/v1/jobs/a/status", None),
    ("GET", "/api/v1/jobs/a/result", None),
    ("GET", "/api/v1/jobs/a/logs", None),
    ("GET", "/api/v1/jobs/a/artifacts/per_class", None),
    ("DELETE", "/api/v1/jobs/a", None),
]


@pytest.fixture()
def storeless(make_client) -> TestClient:
    url = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{free_port()}/none"
    client: TestClient = make_client(database_url=url)
    return client


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_job_endpoints_answer_503(h, storeless: TestClient, method: str, path: str, body) -> None:
    resp = storeless.request(method, path, json=body)
    err = h.check_error(resp, 503, "SERVICE_UNAVAILABLE")["errors"][0]
    assert err["details"]["component"] == "jobs"


def test_health_reports_the_missing_store(h, storeless: TestClient) -> None:
    data = h.data_of(storeless.get("/health"))
    assert data["status"] == "unhealthy" and data["components"]["database"] == "unavailable"


def test_what_needs_no_store_still_works(h, storeless: TestClient) -> None:
    names = [s["name"] for s in h.data_of(storeless.get("/api/v1/scorers"))]
    assert "classification_f1" in names
