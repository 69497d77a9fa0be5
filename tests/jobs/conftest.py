"""Fixtures of the job-system tests: one backend per (queue, store) combination.

A backend is a started :class:`JobService` built by ``build_service(Settings(...))``
plus, for Celery, a real ``autoscorer worker`` process consuming this module's own
queue. Every combination has its own database (a SQLite file, or a fresh PostgreSQL
database dropped at the end of the session) and its own routing key, so stale
messages of another run can never reach it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.jobs.helpers import LEASE_SECONDS, Brokers, PgDatabases, Worker, pg_available, unique

from autoscorer.jobs.factory import build_service
from autoscorer.jobs.records import JobSubmission
from autoscorer.jobs.service import JobService
from autoscorer.settings import Settings

QUEUES = ("inprocess", "redis", "rabbitmq")
STORES = ("sqlite", "postgresql")


def _combo(queue: str, store: str) -> Any:
    marks = []
    if queue != "inprocess":
        marks.append(pytest.mark.celery)
    if store == "postgresql":
        marks.append(pytest.mark.postgres)
    return pytest.param((queue, store), id=f"{queue}-{store}", marks=marks)


COMBOS = [_combo(q, s) for q in QUEUES for s in STORES]


@dataclass
class Backend:
    """A started job service over one queue backend and one store."""

    queue: str  # inprocess, redis or rabbitmq
    store: str  # sqlite or postgresql
    service: JobService
    database_url: str
    lane: str  # routing key every job of this backend is sent to (config.queue)
    root: Path  # workspaces live here
    workers: list[Worker] = field(default_factory=list)

    @property
    def celery(self) -> bool:
        return self.queue != "inprocess"

    def config(self, **extra: Any) -> dict[str, Any]:
        return {"queue": self.lane, **extra}

    def job(self, ws: Path, **fields: Any) -> JobSubmission:
        """A submission of ``ws`` on this backend's lane."""
        config = self.config(**fields.pop("config", {}))
        return JobSubmission(workspace_path=str(ws), config=config, **fields)


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def database_factory(pg_databases: PgDatabases, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``make(store)`` -> a URL of a new, empty database."""

    def make(store: str) -> str:
        if store == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'jobs.db'}"
        if not pg_available():
            pytest.fail("PostgreSQL does not answer on 127.0.0.1:5432 (scripts/services)")
        return pg_databases.create()

    return make


@pytest.fixture(scope="session")
def brokers() -> Iterator[Brokers]:
    used = Brokers()
    yield used
    used.cleanup()


def start_backend(
    queue: str,
    store: str,
    *,
    database_url: str,
    root: Path,
    brokers: Brokers,
    workers: int = 1,
    pool: str = "prefork",
    concurrency: int = 2,
    worker_env: dict[str, str] | None = None,
    **settings: Any,
) -> Backend:
    lane = unique("lane")
    values: dict[str, Any] = {
        "database_url": database_url,
        "queue": "inprocess" if queue == "inprocess" else "celery",
        "executor": "local",
        "queue_concurrency": concurrency,
        "job_lease_seconds": LEASE_SECONDS,
        "job_max_attempts": 3,
        "reaper_interval": 1.0,
        "workspace_roots": [str(root)],
    }
    started: list[Worker] = []
    if queue != "inprocess":
        values["broker_url"] = brokers.use(queue, lane)
    values.update(settings)
    service = build_service(Settings(**values))
    try:
        if queue != "inprocess":
            for _ in range(workers):
                broker = values["broker_url"]
                started.append(
                    Worker(
                        root,
                        database_url,
                        broker,
                        lane,
                        pool=pool,
                        concurrency=concurrency,
                        env=worker_env,
                    )
                )
            app = service.queue.app  # type: ignore[attr-defined]
            for w in started:
                w.wait_ready(app)
    except BaseException:  # nothing left running behind a failed set-up
        stop_backend(Backend(queue, store, service, database_url, lane, root, started))
        raise
    return Backend(queue, store, service, database_url, lane, root, started)


def stop_backend(backend: Backend) -> None:
    for w in backend.workers:
        w.stop()
    backend.service.close()


@pytest.fixture(scope="module", params=COMBOS)
def backend(
    request: pytest.FixtureRequest,
    database_factory: Any,
    brokers: Brokers,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Backend]:
    queue, store = request.param
    root = tmp_path_factory.mktemp(f"{queue}-{store}")
    b = start_backend(
        queue, store, database_url=database_factory(store), root=root, brokers=brokers
    )
    yield b
    stop_backend(b)
