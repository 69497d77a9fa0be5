"""JobStoreCollector against a real job table, on SQLite and on PostgreSQL.

The expected numbers are computed in Python from the same rows the test
inserts; the collector computes them in SQL. Both must agree exactly.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from autoscorer.jobs import models
from autoscorer.observability import JobStoreCollector, build_registry, render
from autoscorer.observability.jobstore import DURATION_BUCKETS

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RMSE = "regression_rmse"


@dataclass(frozen=True)
class Job:
    status: str
    scorer: str | None = "classification_f1"
    queue: str | None = "default"
    error_code: str | None = None
    execution: float | None = None
    inference: float | None = None
    scoring: float | None = None
    wait: float | None = None  # seconds from created_at to started_at


JOBS = [
    Job("completed", execution=0.3, inference=0.2, scoring=0.05, wait=0.25),
    Job("completed", execution=4.0, inference=3.0, scoring=0.75, wait=3.5),
    Job("completed", execution=100.0, inference=90.0, scoring=9.0, wait=45.0),
    Job("completed", RMSE, execution=7200.0, inference=7000.0, scoring=150.0, wait=2.0),
    Job("completed", RMSE, execution=9000.0, inference=8000.0, scoring=1.0, wait=9999.0),
    Job("failed", error_code="TIMEOUT_ERROR", execution=61.0, inference=60.0, wait=12.0),
    Job("failed", error_code="TIMEOUT_ERROR", execution=30.5, wait=0.75),
    Job("failed", "regression_rmse", error_code="VALIDATION_ERROR", execution=1.2, scoring=1.1),
    Job("failed", None, error_code=None),
    Job("cancelled", "regression_rmse"),
    Job("cancelled"),
    Job("running", wait=600.5),
    Job("running", "regression_rmse", queue="gpu", wait=1.0),
    Job("queued"),
    Job("queued", queue="gpu"),
    Job("submitted", None, queue=None),
    Job("queued", queue="cpu"),
]


def insert(engine: Engine, jobs: list[Job], first: int = 0) -> None:
    models.Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        for i, job in enumerate(jobs, start=first):
            created = T0 + timedelta(minutes=i)
            started = created + timedelta(seconds=job.wait) if job.wait is not None else None
            session.add(
                models.JobRow(
                    job_id=f"job-{i}", status=job.status, scorer=job.scorer, queue=job.queue,
                    error_code=job.error_code, execution_time=job.execution,
                    inference_time=job.inference, scoring_time=job.scoring,
                    workspace_path=f"/ws/{i}", executor="local", created_at=created,
                    updated_at=created, started_at=started, config={},
                )
            )  # fmt: skip


@pytest.fixture()
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield engine
    engine.dispose()


def _postgres_database() -> Iterator[Engine]:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"autoscorer_test_metrics_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server here: skip, as the other postgres tests do
        admin.dispose()
        pytest.skip(f"PostgreSQL not available at 127.0.0.1:5432: {exc}")
    engine = create_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
        yield engine
        engine.dispose()
    else:
        yield from _postgres_database()


def scrape(source: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, _ = render(build_registry(source))
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def labelled(samples: dict, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def L(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def expected_histogram(values: list[float]) -> dict[frozenset[tuple[str, str]], float]:
    out = {L(le=floatToGoString(b)): float(sum(v <= b for v in values)) for b in DURATION_BUCKETS}
    out[L(le="+Inf")] = float(len(values))
    return out


def test_counts_by_status_scorer_error_and_queue(engine: Engine) -> None:
    insert(engine, JOBS)
    s = scrape(engine)
    assert labelled(s, "autoscorer_jobs_submitted_total") == {
        L(scorer="classification_f1"): 10.0, L(scorer="regression_rmse"): 5.0,
        L(scorer="unknown"): 2.0,
    }  # fmt: skip
    assert labelled(s, "autoscorer_jobs_completed_total") == {
        L(scorer="classification_f1"): 3.0, L(scorer="regression_rmse"): 2.0,
        L(scorer="unknown"): 0.0,
    }  # fmt: skip
    failed = labelled(s, "autoscorer_jobs_failed_total")
    assert failed == {
        L(scorer="classification_f1", error_code="TIMEOUT_ERROR"): 2.0,
        L(scorer="regression_rmse", error_code="VALIDATION_ERROR"): 1.0,
        L(scorer="unknown", error_code="UNKNOWN"): 1.0,
    }
    assert s[("autoscorer_jobs_cancelled_total", L())] == 2.0
    assert s[("autoscorer_jobs_running", L())] == 2.0
    assert labelled(s, "autoscorer_queue_depth") == {
        L(queue="default"): 2.0, L(queue="gpu"): 1.0, L(queue="cpu"): 1.0,
    }  # fmt: skip
    assert s[("autoscorer_job_store_up", L())] == 1.0


def test_histograms_bucketed_in_sql_match_python(engine: Engine) -> None:
    insert(engine, JOBS)
    s = scrape(engine)
    execution = [j.execution for j in JOBS if j.execution is not None]
    assert labelled(s, "autoscorer_job_duration_seconds_bucket") == expected_histogram(execution)
    assert s[("autoscorer_job_duration_seconds_count", L())] == len(execution)
    assert s[("autoscorer_job_duration_seconds_sum", L())] == pytest.approx(sum(execution))
    stages = {
        "inference": [j.inference for j in JOBS if j.inference is not None],
        "scoring": [j.scoring for j in JOBS if j.scoring is not None],
        "queue_wait": [j.wait for j in JOBS if j.wait is not None],
    }
    buckets = labelled(s, "autoscorer_job_stage_duration_seconds_bucket")
    for stage, values in stages.items():
        got = {lbl - {("stage", stage)}: v for lbl, v in buckets.items() if ("stage", stage) in lbl}
        assert got == expected_histogram(values), stage
        total = s[("autoscorer_job_stage_duration_seconds_sum", L(stage=stage))]
        assert total == pytest.approx(sum(values), abs=1e-3), stage


def test_empty_store_reports_zeros(engine: Engine) -> None:
    insert(engine, [])
    s = scrape(engine)
    assert s[("autoscorer_jobs_running", L())] == 0.0
    assert labelled(s, "autoscorer_queue_depth") == {L(queue="default"): 0.0}
    assert labelled(s, "autoscorer_job_duration_seconds_bucket")[L(le="+Inf")] == 0.0
    assert s[("autoscorer_job_duration_seconds_sum", L())] == 0.0


def test_collector_reads_at_each_scrape_through_a_callable(sqlite_engine: Engine) -> None:
    insert(sqlite_engine, JOBS[:2])
    registry = build_registry(lambda: sqlite_engine)
    first = {s.name: s.value for m in registry.collect() for s in m.samples}
    insert(sqlite_engine, [Job("running")], first=2)
    second = {s.name: s.value for m in registry.collect() for s in m.samples}
    assert (first["autoscorer_jobs_running"], second["autoscorer_jobs_running"]) == (0.0, 1.0)


def test_broken_or_missing_store_is_reported_not_raised(sqlite_engine: Engine) -> None:
    no_tables = scrape(sqlite_engine)  # the jobs table does not exist
    assert no_tables[("autoscorer_job_store_up", L())] == 0.0
    assert not labelled(no_tables, "autoscorer_jobs_running")
    assert scrape(lambda: None)[("autoscorer_job_store_up", L())] == 0.0


def test_no_engine_means_no_job_metrics() -> None:
    samples = scrape(None)
    assert not [name for name, _ in samples if name.startswith("autoscorer_job")]


def test_collector_is_usable_in_a_plain_registry(sqlite_engine: Engine) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    insert(sqlite_engine, JOBS)
    registry = CollectorRegistry()
    registry.register(JobStoreCollector(sqlite_engine))
    assert b"autoscorer_jobs_cancelled_total 2.0" in generate_latest(registry)
