"""GET /metrics through the app: format, job metrics via the service's engine,
auth (reader unless public), disabled, and the HTTP latency middleware."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from autoscorer.api.main import create_app
from autoscorer.api.routes.metrics import engine_of
from autoscorer.api.runtime import Runtime
from autoscorer.jobs import models
from autoscorer.settings import ApiKey, Settings, hash_key

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

READER, SUBMITTER = "reader-secret", "submitter-secret"
KEYS = [
    ApiKey(name="r", sha256=hash_key(READER), role="reader"),
    ApiKey(name="s", sha256=hash_key(SUBMITTER), role="submitter"),
]


class StubService:
    """Just what /metrics and the app's lifespan use of a job service."""

    def __init__(self, engine: Engine) -> None:
        self.store = type("Store", (), {"engine": engine})()

    def close(self) -> None:
        return None


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    models.Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        for i, status in enumerate(["running", "queued", "completed"]):
            s.add(
                models.JobRow(
                    job_id=f"j{i}", status=status, scorer="classification_f1",
                    workspace_path="/ws", executor="local", created_at=now, updated_at=now,
                    config={},
                )
            )  # fmt: skip
    yield engine
    engine.dispose()


@pytest.fixture()
def make_client(tmp_path: Path, engine: Engine) -> Iterator[Callable[..., TestClient]]:
    opened: list[TestClient] = []

    def make(app_hook: Callable[[FastAPI], None] | None = None, **overrides: Any) -> TestClient:
        settings = Settings(
            **{
                "database_url": f"sqlite:///{tmp_path / 'unused.db'}",
                "workspace_roots": [str(tmp_path)],
                "scorer_roots": [str(tmp_path)],
                "executor": "local",
                **overrides,
            }
        )
        runtime = Runtime()
        runtime.service = StubService(engine)  # type: ignore[assignment]
        app = create_app(settings, runtime=runtime)
        if app_hook:
            app_hook(app)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def http_count(text: str, route: str, status: str | None = None) -> float:
    """Requests counted for ``route`` (and ``status``; any status when None)."""
    return sum(
        value
        for (name, labels), value in samples(text).items()
        if name == "autoscorer_http_request_duration_seconds_count"
        and ("route", route) in labels
        and (status is None or ("status", status) in labels)
    )


def test_metrics_text_format_with_job_metrics(make_client: Callable[..., TestClient]) -> None:
    resp = make_client().get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "x-request-id" in resp.headers and not resp.text.startswith("{")
    got = samples(resp.text)
    assert got[("autoscorer_jobs_running", frozenset())] == 1.0
    assert got[("autoscorer_queue_depth", frozenset({("queue", "default")}))] == 1.0
    assert got[("autoscorer_job_store_up", frozenset())] == 1.0


def test_latency_is_labelled_by_route_template(make_client: Callable[..., TestClient]) -> None:
    def add_routes(app: FastAPI) -> None:
        @app.get("/boom/{thing}")
        def boom(thing: str) -> None:
            raise RuntimeError(f"boom {thing}")

    client = make_client(add_routes)
    before = client.get("/metrics").text
    for job_id in ("a1", "b2", "c3"):
        client.get(f"/api/v1/jobs/{job_id}/status")
    client.get("/no/such/path")
    assert client.get("/boom/x").status_code == 500
    after = client.get("/metrics").text
    route = "/api/v1/jobs/{job_id}/status"
    assert http_count(after, route) - http_count(before, route) == 3
    assert http_count(after, "unmatched", "404") - http_count(before, "unmatched", "404") == 1
    boom = "/boom/{thing}"
    assert http_count(after, boom, "500") - http_count(before, boom, "500") == 1
    assert "/api/v1/jobs/a1/status" not in after


def test_reader_key_needed_when_keys_exist(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=KEYS)
    denied = client.get("/metrics")
    assert denied.status_code == 401 and denied.json()["errors"][0]["code"] == "UNAUTHORIZED"
    bad = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    for key in (READER, SUBMITTER):
        ok = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200 and "autoscorer_jobs_running" in ok.text


def test_public_metrics_need_no_key(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=KEYS, metrics_public=True)
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/v1/status").status_code == 401  # the rest stays closed


def test_metrics_can_be_switched_off(make_client: Callable[..., TestClient]) -> None:
    client = make_client(metrics_enabled=False)
    resp = client.get("/metrics")
    assert resp.status_code == 404 and resp.json()["success"] is False


def test_metrics_section_in_config(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    data = client.get("/api/v1/config", params={"section": "metrics"}).json()["data"]
    assert data == {"metrics": {"enabled": True, "public": False}}


def test_engine_of_finds_the_store_engine(engine: Engine) -> None:
    assert engine_of(StubService(engine)) is engine
    assert engine_of(type("S", (), {"engine": engine})()) is engine
    assert engine_of(None) is None and engine_of(object()) is None


def test_without_a_job_service_the_store_is_reported_down(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", executor="local")
    runtime = Runtime()
    app = create_app(settings, runtime=runtime)
    client = TestClient(app)  # no lifespan: the service is never started
    got = samples(client.get("/metrics").text)
    assert got[("autoscorer_job_store_up", frozenset())] == 0.0
