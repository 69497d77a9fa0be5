"""Property-based run of every operation in /openapi.json against a live server.

Bounded: a few examples per operation, no shrinking. Checks: no 5xx, responses
match their documented schema, status codes and content types are documented.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from autoscorer.api.main import create_app
from autoscorer.settings import Settings

JOBS_INSTALLED = importlib.util.find_spec("autoscorer.jobs.service") is not None
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, server_class: type) -> Iterator:
    tmp = tmp_path_factory.mktemp("schemathesis")
    (tmp / "ws").mkdir()
    (tmp / "scorers").mkdir()
    settings_ = Settings(
        database_url=f"sqlite:///{tmp / 'jobs.db'}",
        workspace_roots=[str(tmp / "ws")],
        scorer_roots=[str(tmp / "scorers")],
        executor="local",
        sync_wait_seconds=0.5,
    )
    server = server_class(create_app(settings_)).start()
    try:
        yield schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    finally:
        server.stop()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation(case: schemathesis.Case) -> None:
    if case.path.startswith("/api/v1/jobs") and not JOBS_INSTALLED:
        pytest.skip("the job service (autoscorer.jobs.service) is not in this tree: 503 by design")
    case.call_and_validate(checks=CHECKS)
