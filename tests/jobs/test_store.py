"""The job store itself: migrations, SQLite WAL and concurrent writers, log
semantics, claims and leases, and the reaper (requeue, then WORKER_LOST)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, update
from tests.jobs.helpers import REPO, unique

from autoscorer.errors import Conflict, InvalidParameter, JobNotFound
from autoscorer.jobs.db import current_revision, head_revision
from autoscorer.jobs.joblogs import MAX_MESSAGE
from autoscorer.jobs.models import Base, JobLogRow, JobRow
from autoscorer.jobs.reaper import Reaper
from autoscorer.jobs.records import JobStatusView, NewJob, iso
from autoscorer.jobs.store import JobStore

STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="module", params=STORES)
def store(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[JobStore]:
    s = JobStore(database_factory(request.param))
    yield s
    s.close()


def _fields(job_id: str | None = None, **extra: Any) -> NewJob:
    return NewJob(
        job_id=job_id or unique("job"),
        task_type="classification",
        scorer="classification_f1",
        workspace_path="/nowhere",
        executor="local",
        queue="score",
        config={},
        **extra,
    )


# -- schema --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", STORES)
def test_migrations_create_the_schema(kind: str, database_factory: Any) -> None:
    url = database_factory(kind)
    s = JobStore(url)
    try:
        assert current_revision(s.engine) == head_revision() == "0003"
        tables = set(inspect(s.engine).get_table_names())
        assert tables == {"jobs", "job_logs", "idempotency_keys", "webhook_outbox",
                          "alembic_version"}  # fmt: skip
        with s.engine.connect() as conn:  # the migration creates exactly the models
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        again = JobStore(url)  # opening an up-to-date store changes nothing
        assert current_revision(again.engine) == "0003"
        again.close()
    finally:
        s.close()


@pytest.mark.parametrize("kind", STORES)
def test_a_store_at_0001_upgrades_and_keeps_its_jobs_without_owner(
    kind: str, database_factory: Any
) -> None:
    from alembic import command
    from sqlalchemy import text

    from autoscorer.jobs.db import alembic_config, make_engine

    url = database_factory(kind)
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0001")
    stamp = "2024-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (job_id, status, workspace_path, executor, queue, config, "
                "progress, created_at, updated_at, attempts) VALUES ('old-job', 'completed', "
                "'/w', 'local', 'default', '{}', 1.0, :t, :t, 1)"
            ),
            {"t": stamp},
        )
    engine.dispose()
    s = JobStore(url)
    try:
        assert current_revision(s.engine) == "0003"
        assert s.get("old-job").owner is None
        assert s.list(owner="someone") == ([], 0)
        assert [j.job_id for j in s.list()[0]] == ["old-job"]
    finally:
        s.close()


@pytest.mark.postgres
def test_postgresql_reads_send_no_begin(database_factory: Any) -> None:
    """A status read is one statement: no BEGIN/ROLLBACK round trips around it."""
    s = JobStore(database_factory("postgresql"))
    try:
        s.add(_fields("pg-read"))
        with s.read_engine.connect() as conn:
            conn.execute(select(1))
            raw = conn.connection.dbapi_connection
            assert raw is not None and raw.autocommit is True
            assert raw.info.transaction_status.name == "IDLE"  # no transaction open
        assert s.get("pg-read", result=False).job_id == "pg-read"
        with s.session.begin() as session:  # writers keep their transaction
            assert session.connection().connection.dbapi_connection.autocommit is False
    finally:
        s.close()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (tmp_path / "jobs.db-wal").exists()
    finally:
        s.close()


WRITER = """
import sys, time
from autoscorer.jobs.records import NewJob
from autoscorer.jobs.store import JobStore
url, name, n, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
time.sleep(max(0.0, start - time.time()))  # all writers begin at the same moment
store = JobStore(url)  # the first ones race to migrate the fresh file too
for i in range(n):
    job_id = f"{name}-{i}"
    store.add(NewJob(job_id=job_id, workspace_path="/w", executor="local"))
    store.add_logs(job_id, [("INFO", "api", "submitted"), ("INFO", "api", "again")])
    assert store.transition(job_id, "queued", allowed_from=["submitted"]) is not None
    assert store.claim(job_id, name, 30) is not None
    assert store.finish(job_id, name, "completed") is not None
print("ok", name)
"""


def test_processes_writing_one_sqlite_file_do_not_fail(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    n, writers = 60, 4
    start = time.time() + 2.0  # the interpreters need a moment to import
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, f"p{k}", str(n), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(REPO),
        )
        for k in range(writers)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.startswith("ok")
    s = JobStore(url)
    try:
        assert s.counts()["completed"] == n * writers
        with s.session() as session:
            lines = session.scalar(select(func.count()).select_from(JobLogRow))
        assert lines == 3 * n * writers  # two written here, one by each claim ("started on")
    finally:
        s.close()


def test_threads_of_one_process_take_turns_on_a_sqlite_file(tmp_path: Path) -> None:
    """Writers in one process queue on one lock per file (two stores on the file share it),
    so none of them polls SQLite's busy handler; all of their writes land."""
    url = f"sqlite:///{tmp_path / 'threads.db'}"
    stores = [JobStore(url), JobStore(url)]
    assert stores[0].session.lock is not None and stores[0].session.lock is stores[1].session.lock
    errors: list[BaseException] = []

    def lifecycle(k: int) -> None:
        store = stores[k % 2]
        try:
            for i in range(40):
                job_id = f"t{k}-{i}"
                store.add(_fields(job_id))
                assert store.transition(job_id, "queued", allowed_from=["submitted"])
                assert store.claim(job_id, f"w{k}", 30) is not None
                assert store.heartbeat(job_id, f"w{k}", 30, logs=[("INFO", "t", "beat")])
                assert store.finish(job_id, f"w{k}", "completed") is not None
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=lifecycle, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors
        assert stores[0].counts()["completed"] == 8 * 40
    finally:
        for s in stores:
            s.close()


@pytest.mark.postgres
def test_postgresql_writers_need_no_process_lock(database_factory: Any) -> None:
    s = JobStore(database_factory("postgresql"))
    try:
        assert s.session.lock is None  # row locks and MVCC: writers do not take turns
    finally:
        s.close()


# -- jobs ----------------------------------------------------------------------------
def test_add_and_add_many(store: JobStore) -> None:
    job = store.add(_fields())
    assert job.status == "submitted" and job.attempts == 0 and job.progress == 0.0
    with pytest.raises(Conflict):
        store.add(_fields(job.job_id))
    fresh = [_fields(), _fields()]
    with pytest.raises(Conflict) as info:
        store.add_many([fresh[0], _fields(job.job_id), fresh[1]])
    assert info.value.details == {"job_ids": [job.job_id]}
    for f in fresh:
        with pytest.raises(JobNotFound):
            store.get(f.job_id)
    assert [r.job_id for r in store.add_many(fresh)] == [f.job_id for f in fresh]


def test_claim_is_exclusive_and_a_lost_lease_can_be_taken(store: JobStore) -> None:
    job_id = store.add(_fields()).job_id
    first = store.claim(job_id, "w1", 30)
    assert first is not None and first.attempts == 1 and first.worker_id == "w1"
    assert store.claim(job_id, "w2", 30) is None  # w1's lease is live
    assert store.heartbeat(job_id, "w2", 30) is None  # not w2's job
    assert store.heartbeat(job_id, "w1", 30, progress=0.5) == "running"
    _expire(store, job_id)
    second = store.claim(job_id, "w2", 30)
    assert second is not None and second.attempts == 2 and second.worker_id == "w2"
    assert store.finish(job_id, "w1", "completed") is None  # w1 lost it
    assert store.heartbeat(job_id, "w1", 30) is None
    assert store.finish(job_id, "w2", "completed") is not None
    assert store.claim(job_id, "w3", 30) is None


def test_claims_of_a_max_parallel_batch_never_overlap(store: JobStore) -> None:
    """Two workers claim two jobs of a max_parallel=1 batch at the same moment, many
    times: exactly one of them may start each time."""
    for _ in range(15):
        batch = unique("batch")
        jobs = [_fields(batch_id=batch, batch_max_parallel=1) for _ in range(2)]
        ids = [j.job_id for j in store.add_many(jobs)]
        barrier = threading.Barrier(2)
        won: list[str] = []

        def claim(
            job_id: str, worker: str, barrier: threading.Barrier = barrier, won: list[str] = won
        ) -> None:
            barrier.wait()
            if store.claim(job_id, worker, 30) is not None:
                won.append(job_id)

        threads = [threading.Thread(target=claim, args=(i, f"w{k}")) for k, i in enumerate(ids)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(won) == 1, f"{len(won)} jobs of a max_parallel=1 batch started at once"
        store.finish(won[0], f"w{ids.index(won[0])}", "completed")
        other = ids[1 - ids.index(won[0])]
        assert store.claim(other, "w9", 30) is not None  # the slot is free again
        store.finish(other, "w9", "completed")


# -- logs ----------------------------------------------------------------------------
def test_log_levels_since_and_tail(store: JobStore) -> None:
    job_id = store.add(_fields()).job_id
    entries = [
        ("DEBUG", "worker", "d"),
        ("INFO", "worker", "i"),
        ("warn", "executor", "w"),
        ("ERROR", "scorer", "e"),
        ("nonsense", "x" * 40, "y" * (MAX_MESSAGE + 10)),
    ]
    for entry in entries:
        store.add_logs(job_id, [entry])
        time.sleep(0.002)  # distinct timestamps
    lines, total = store.logs(job_id)
    assert total == 5
    assert [x.level for x in lines] == ["DEBUG", "INFO", "WARNING", "ERROR", "INFO"]
    assert len(lines[4].component) == 32 and len(lines[4].message) == MAX_MESSAGE
    levels = {
        "debug": ["d", "i", "w", "e", lines[4].message],
        "INFO": ["i", "w", "e", lines[4].message],
        "warning": ["w", "e"],
        "WARN": ["w", "e"],
        "error": ["e"],
    }
    for level, expected in levels.items():
        got, n = store.logs(job_id, level=level)
        assert [x.message for x in got] == expected and n == len(expected), level
    cut = iso(lines[1].timestamp)
    assert cut is not None
    after, n = store.logs(job_id, since=cut)
    assert after == lines[2:] and n == 3  # strictly after
    naive = cut.removesuffix("Z")  # no offset means UTC
    assert store.logs(job_id, since=naive) == (lines[2:], 3)
    moment = datetime.fromisoformat(naive).replace(tzinfo=UTC)
    plus5 = moment.astimezone(timezone(timedelta(hours=5))).isoformat()
    assert plus5.endswith("+05:00")
    assert store.logs(job_id, since=plus5) == (lines[2:], 3)
    assert store.logs(job_id, since=iso(moment + timedelta(hours=1))) == ([], 0)
    assert store.logs(job_id, tail=2) == (lines[3:], 5)
    assert store.logs(job_id, tail=99) == (lines, 5)
    assert store.logs(job_id, level="WARNING", tail=1) == ([lines[3]], 2)
    assert store.logs(job_id, since=cut, level="ERROR", tail=5) == ([lines[3]], 1)
    with pytest.raises(InvalidParameter):
        store.logs(job_id, since="not a time")
    with pytest.raises(JobNotFound):
        store.logs(unique("missing"))


# -- reaper --------------------------------------------------------------------------
def _expire(store: JobStore, job_id: str) -> None:
    """Put the job's lease in the past, as if its worker had stopped renewing it."""
    past = datetime.now(UTC) - timedelta(seconds=5)
    with store.session.begin() as s:
        s.execute(update(JobRow).where(JobRow.job_id == job_id).values(lease_until=past))


def test_reaper_requeues_then_fails_with_worker_lost(store: JobStore) -> None:
    requeued: list[JobStatusView] = []
    reaper = Reaper(store, requeued.append, max_attempts=3, interval=60)
    job_id = store.add(_fields()).job_id
    live = store.add(_fields()).job_id
    assert store.claim(live, "alive", 60) is not None
    for attempt in (1, 2):
        claimed = store.claim(job_id, f"w{attempt}", 30)
        assert claimed is not None and claimed.attempts == attempt
        assert reaper.reap() == []  # the lease is live
        _expire(store, job_id)
        assert reaper.reap() == [job_id]
        job = store.get(job_id)
        assert job.status == "queued" and job.stage == "requeued"
        assert job.worker_id == f"w{attempt}" and job.attempts == attempt
        assert [r.job_id for r in requeued] == [job_id] * attempt
        assert store.finish(job_id, f"w{attempt}", "completed") is None  # not its job now
    assert store.claim(job_id, "w3", 30) is not None
    _expire(store, job_id)
    assert reaper.reap() == [job_id]
    job = store.get(job_id)
    assert job.status == "failed" and job.attempts == 3 and len(requeued) == 2
    assert job.error["code"] == "WORKER_LOST" and job.result["error"]["code"] == "WORKER_LOST"
    assert job.error["details"] == {"attempts": 3, "worker_id": "w3", "fault": "system"}
    assert job.completed_at is not None
    assert store.get(live).status == "running"  # a live lease is never touched
    warnings, _ = store.logs(job_id, level="WARNING")
    assert [(x.level, x.component) for x in warnings] == [
        ("WARNING", "reaper"),
        ("WARNING", "reaper"),
        ("ERROR", "reaper"),
    ]
    assert warnings[-1].message.startswith("[WORKER_LOST]")
    assert reaper.reap() == []
    store.finish(live, "alive", "completed")


def test_two_reapers_move_a_lost_job_once(store: JobStore) -> None:
    moved: list[str] = []
    reapers = [Reaper(store, lambda j: moved.append(j.job_id)) for _ in range(4)]
    ids = [store.add(_fields()).job_id for _ in range(5)]
    for job_id in ids:
        store.claim(job_id, "gone", 30)
        _expire(store, job_id)
    barrier = threading.Barrier(len(reapers))
    results: list[list[str]] = []

    def run(r: Reaper) -> None:
        barrier.wait()
        results.append(r.reap())

    threads = [threading.Thread(target=run, args=(r,)) for r in reapers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(i for r in results for i in r) == sorted(ids) == sorted(moved)
    assert {store.get(i).status for i in ids} == {"queued"}
