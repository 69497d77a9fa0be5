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
from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from tests.jobs.helpers import REPO, unique

from autoscorer.errors import Conflict, InvalidParameter, JobNotFound
from autoscorer.jobs.db import current_revision, head_revision
from autoscorer.jobs.joblogs import MAX_MESSAGE
from autoscorer.jobs.models import Base, JobLogRow, JobRow
from autoscorer.jobs.reaper import Reaper
from autoscorer.jobs.records import JobStatus, JobStatusView, NewJob, iso
from autoscorer.jobs.store import JobStore, _new_rows

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
    fields: dict[str, Any] = {
        "task_type": "classification",
        "scorer": "classification_f1",
        "workspace_path": "/nowhere",
        "executor": "local",
        "queue": "score",
        "config": {},
    }
    return NewJob(job_id=job_id or unique("job"), **{**fields, **extra})


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
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    s = JobStore(url)
    try:
        assert s.url == url  # what another store on the same database is opened with
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


def test_a_taken_id_is_a_conflict_that_names_it(store: JobStore) -> None:
    taken = store.add(_fields()).job_id
    with pytest.raises(Conflict) as one:
        store.add(_fields(taken))
    assert (one.value.message, one.value.field, one.value.details) == (
        f"job {taken} already exists; pick another job_id or omit it",
        "job_id",
        {"job_id": taken},
    )
    with pytest.raises(Conflict) as alone:  # add_many of one job says the same
        store.add_many([_fields(taken)])
    assert (alone.value.message, alone.value.details) == (one.value.message, {"job_id": taken})
    again = store.add(_fields()).job_id
    with pytest.raises(Conflict) as many:
        store.add_many([_fields(again), _fields(), _fields(taken), _fields(taken)])
    assert (many.value.message, many.value.field, many.value.details) == (
        f"job ids already used: {', '.join(sorted([again, taken]))}; nothing submitted",
        "job_id",
        {"job_ids": sorted([again, taken])},
    )
    ids = [unique("many") for _ in range(12)]
    store.add_many([_fields(i) for i in ids])
    with pytest.raises(Conflict) as listed:  # the message names ten, the details all
        store.add_many([_fields(i) for i in ids])
    assert (
        listed.value.message
        == f"job ids already used: {', '.join(sorted(ids)[:10])}; nothing submitted"
    )
    assert listed.value.details == {"job_ids": sorted(ids)}


def test_a_missing_required_column_is_not_reported_as_a_taken_id(store: JobStore) -> None:
    """A NOT NULL column left None fails with the database's error, not a Conflict."""
    bad = _fields(executor=None)
    with pytest.raises(IntegrityError, match="executor"):
        store.add(bad)
    with pytest.raises(IntegrityError, match="executor"):
        store.add_many([_fields(), bad])
    with pytest.raises(JobNotFound):
        store.get(bad.job_id)


def test_a_group_commit_with_a_refused_add_stores_the_others(store: JobStore) -> None:
    """Adds arriving together share one transaction (``_insert_batch``); when one of them
    is refused, the others still go in and only that one gets its error."""
    taken = store.add(_fields()).job_id
    fresh = [unique("fresh") for _ in range(3)]
    items = [_fields(fresh[0]), _fields(taken), _fields(fresh[1]),
             _fields(executor=None), _fields(fresh[2])]  # fmt: skip
    errors = store._insert_batch([(v, True) for v in _new_rows(items, JobStatus.QUEUED)])
    assert [type(e).__name__ for e in errors] == [
        "NoneType", "Conflict", "NoneType", "IntegrityError", "NoneType"
    ]  # fmt: skip
    assert isinstance(errors[1], Conflict) and errors[1].details == {"job_id": taken}
    for job_id in fresh:
        assert store.get(job_id).status == "queued"
        assert [(e.level, e.component, e.message) for e in store.logs(job_id)[0]] == [
            ("INFO", "api", "submitted to queue score")
        ]
    pair = [_fields(taken), _fields()]  # two: each gets its own answer
    errors = store._insert_batch([(v, False) for v in _new_rows(pair, JobStatus.QUEUED)])
    assert [type(e).__name__ for e in errors] == ["Conflict", "NoneType"]
    assert store.get(pair[1].job_id).status == "queued"
    one = unique("one")
    assert store._insert_batch(
        [(v, False) for v in _new_rows([_fields(one)], JobStatus.QUEUED)]
    ) == [None]
    assert store.logs(one) == ([], 0)  # no first line asked for


def test_ids_taken_twice_in_one_submission_or_meanwhile_are_conflicts(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    twice = unique("twice")
    with pytest.raises(Conflict) as inside:  # the same new id twice in one submission
        store.add_many([_fields(twice), _fields(), _fields(twice)])
    assert inside.value.details == {"job_ids": [twice]}
    taken = store.add(_fields()).job_id
    with pytest.raises(Conflict) as pair:
        store.add_many([_fields(), _fields(taken)])
    assert pair.value.message == f"job ids already used: {taken}; nothing submitted"
    with pytest.raises(JobNotFound):
        store.get(twice)
    # an id taken between add_many's check and its insert: the insert fails, and the
    # Conflict names the id as in the check
    insert = store._insert
    for wanted, expected in ((1, "job {} already exists; pick another job_id or omit it"),
                             (2, "job ids already used: {}; nothing submitted")):  # fmt: skip
        items = [_fields() for _ in range(wanted)]
        late = items[-1]

        def racing(rows: Any, late: NewJob = late) -> None:
            monkeypatch.setattr(store, "_insert", insert)
            store.add(late)  # another client, just before this insert
            insert(rows)

        monkeypatch.setattr(store, "_insert", racing)
        with pytest.raises(Conflict) as raced:
            store.add_many(items)
        assert raced.value.message == expected.format(late.job_id)
        for item in items[:-1]:
            with pytest.raises(JobNotFound):
                store.get(item.job_id)


def test_add_and_add_many_write_a_first_line_only_when_asked(store: JobStore) -> None:
    quiet = store.add_many([_fields()])[0].job_id
    assert store.logs(quiet) == ([], 0)
    assert store.logs(store.add(_fields()).job_id) == ([], 0)
    loud = store.add_many([_fields(queue="gpu")], log=True)[0].job_id
    assert [(e.level, e.component, e.message) for e in store.logs(loud)[0]] == [
        ("INFO", "api", "submitted to queue gpu")
    ]


def test_get_of_an_unknown_job(store: JobStore) -> None:
    missing = unique("missing")
    with pytest.raises(JobNotFound) as info:
        store.get(missing, result=False)
    assert (info.value.message, info.value.field) == (f"job {missing} not found", "job_id")


def test_list_filters_sorts_and_pages(store: JobStore) -> None:
    scorer, owner = unique("scorer"), unique("owner")
    ids = []
    for k in range(3):
        ids.append(store.add(_fields(scorer=scorer, owner=owner if k else None)).job_id)
        time.sleep(0.002)  # distinct created_at

    def listed(**kw: Any) -> tuple[list[str], int]:
        views, total = store.list(scorer=scorer, **kw)
        return [v.job_id for v in views], total

    assert listed() == (ids[::-1], 3)  # newest first by default
    assert listed(order="asc") == (ids, 3)
    assert listed(order="asc", limit=1, offset=1) == ([ids[1]], 3)
    assert listed(limit=2) == (ids[:0:-1], 3)
    assert store.list(owner=owner, order="asc") == (
        [store.get(i, result=False) for i in ids[1:]],
        2,
    )
    assert listed(status="running") == ([], 0)
    assert store.list(scorer=unique("none")) == ([], 0)
    many = unique("many")
    store.add_many([_fields(scorer=many) for _ in range(51)])
    views, total = store.list(scorer=many)
    assert (len(views), total) == (50, 51)  # 50 a page by default


def test_ids_with_status_oldest_first_and_by_queue(store: JobStore) -> None:
    queue = unique("queue")
    ids = []
    for _ in range(3):
        ids.append(store.add(_fields(queue=queue), status="queued").job_id)
        time.sleep(0.002)
    other = store.add(_fields(), status="queued").job_id
    assert store.claim(ids[1], "w1", 30) is not None
    assert store.ids_with_status(["queued"], queue=queue) == [ids[0], ids[2]]
    assert store.ids_with_status(["queued", "running"], queue=queue) == ids
    everywhere = store.ids_with_status(["queued"])
    assert {ids[0], ids[2], other} <= set(everywhere) and ids[1] not in everywhere
    assert everywhere.index(ids[0]) < everywhere.index(ids[2]) < everywhere.index(other)
    store.finish(ids[1], "w1", "completed")  # no live lease left for the reaper tests


def test_a_lease_that_ends_now_is_still_live(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leases end strictly after ``lease_until``: a claim, ``expired`` and ``release`` at
    that very moment leave the job to its worker."""
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    monkeypatch.setattr("autoscorer.jobs.store.now", lambda: moment)
    job_id = store.add(_fields()).job_id
    assert store.claim(job_id, "w1", 0) is not None  # lease_until == moment
    assert store.claim(job_id, "w2", 30) is None
    assert job_id not in [j.job_id for j in store.expired(moment)]
    assert store.release(job_id, "queued", moment) is None
    later = moment + timedelta(microseconds=1)
    assert job_id in [j.job_id for j in store.expired(later)]
    assert store.release(job_id, "queued", later) is not None


def test_expired_lists_running_jobs_whose_lease_ran_out(store: JobStore) -> None:
    live, lost, ended = (store.add(_fields()).job_id for _ in range(3))
    for job_id in (live, lost, ended):
        assert store.claim(job_id, "w1", 30) is not None
    _expire(store, lost)
    _expire(store, ended)  # then cancelled: its lease stays, it is not running
    assert store.transition(ended, "cancelled", allowed_from=["running"]) is not None
    now_ids = [j.job_id for j in store.expired()]
    assert lost in now_ids and live not in now_ids and ended not in now_ids
    soon = datetime.now(UTC) + timedelta(seconds=60)  # when live's lease has run out too
    soon_ids = [j.job_id for j in store.expired(soon)]
    assert {live, lost} <= set(soon_ids) and ended not in soon_ids
    store.finish(live, "w1", "completed")
    store.finish(lost, "w1", "completed")


def test_a_heartbeat_renews_the_lease_from_now(store: JobStore) -> None:
    job_id = store.add(_fields()).job_id
    assert store.claim(job_id, "w1", 30) is not None
    assert store.heartbeat(job_id, "w1", 12.5) == "running"
    with store.reader() as s:
        row = s.get(JobRow, job_id)
        assert row is not None and row.lease_until is not None
        assert row.lease_until - row.updated_at == timedelta(seconds=12.5)
    store.finish(job_id, "w1", "completed")


def test_finish_of_a_job_no_longer_held_still_writes_its_lines(store: JobStore) -> None:
    job_id = store.add(_fields()).job_id
    assert store.claim(job_id, "w1", 30) is not None
    line = ("INFO", "worker", "late line")
    assert store.finish(job_id, "w2", "completed", logs=[line]) is None
    assert store.finish(job_id, "w1", "completed", logs=[("INFO", "worker", "end")]) is not None
    got = [(e.level, e.component, e.message) for e in store.logs(job_id)[0]]
    assert got == [
        ("INFO", "worker", "started on w1 (attempt 1)"),
        line,
        ("INFO", "worker", "end"),
    ]


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


def test_a_batch_claim_locks_the_batch_s_rows_in_job_id_order(store: JobStore) -> None:
    """The lock statement itself: every row of the job's batch (and no other), in one order
    for every claim, so two claims of a batch never lock its rows in opposite orders
    (a deadlock on PostgreSQL); ``FOR UPDATE`` there, nothing on SQLite."""
    batch = unique("batch")
    jobs = [_fields(batch_id=batch, batch_max_parallel=2) for _ in range(3)]
    ids = [j.job_id for j in store.add_many(jobs)]
    store.add(_fields(batch_id=unique("other"), batch_max_parallel=2))
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        assert store.claim(ids[1], "w1", 30) is not None
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    locks = [(st, p) for st, p in seen if "WHERE jobs.batch_id = " in " ".join(st.split())]
    assert len(locks) == 1
    statement, params = locks[0]
    flat = " ".join(statement.split())
    assert flat.startswith("SELECT jobs.job_id FROM jobs WHERE jobs.batch_id = ")
    assert " ORDER BY jobs.job_id" in flat
    postgres = store.engine.dialect.name == "postgresql"
    assert flat.endswith(" FOR UPDATE") == postgres
    values = params.values() if isinstance(params, dict) else params
    assert list(values) == [batch]


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
