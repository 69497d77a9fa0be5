"""The durable job store: one table of jobs, one of log lines (SQLAlchemy 2).

Every state change is a conditional UPDATE (``WHERE status IN (...)``), so two
processes can never both claim, finish or cancel the same job: the one whose
update matched a row wins, the other sees ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, overload

from sqlalchemy import Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, defer, sessionmaker

from autoscorer.errors import Conflict, JobNotFound
from autoscorer.jobs.db import Writers, affected, make_engine, migrate, read_engine
from autoscorer.jobs.groupcommit import GroupCommit
from autoscorer.jobs.joblogs import Entry, LogMixin, write_logs, write_many_logs
from autoscorer.jobs.models import JOBS, JobRow
from autoscorer.jobs.records import (
    WAITING,
    JobRecord,
    JobStatus,
    JobStatusView,
    NewJob,
    job_record,
    job_view,
    now,
)
from autoscorer.jobs.stats import StatsMixin

OTHER = aliased(JobRow)


def _taken(ids: list[str], batch: bool) -> Conflict:
    if not batch:
        message = f"job {ids[0]} already exists; pick another job_id or omit it"
        return Conflict(message, field="job_id", details={"job_id": ids[0]})
    message = f"job ids already used: {', '.join(ids[:10])}; nothing submitted"
    return Conflict(message, field="job_id", details={"job_ids": ids})


Columns = dict[str, Any]  # one row's column values, inside this module only


def _new_rows(items: Sequence[NewJob], status: JobStatus) -> list[Columns]:
    stamp = now()
    fixed = {"status": status, "created_at": stamp, "updated_at": stamp, "progress": 0.0,
             "attempts": 0}  # fmt: skip
    return [{**item.columns(), **fixed} for item in items]


Records = list[JobRecord]  # module level: the classes shadow ``list``
Views = list[JobStatusView]
Ids = list[str]
RUNNING = JobStatus.RUNNING


def _running_in_batch() -> Any:
    """Jobs of the claimed job's batch running now (for ``max_parallel``)."""
    stmt = select(func.count()).where(OTHER.batch_id == JobRow.batch_id, OTHER.status == RUNNING)
    return stmt.scalar_subquery()


def _lock_batch(s: Session, job_id: str) -> None:
    """Serialize the claims of one ``max_parallel`` batch. Under PostgreSQL's READ
    COMMITTED two claims of different jobs of a batch would each count the other's
    job as not running yet and both start; with the batch's rows locked first, the
    second claim's UPDATE counts the first one's committed start. (SQLite's BEGIN
    IMMEDIATE already serializes writers; FOR UPDATE renders as nothing there.)"""
    row = s.execute(
        select(JobRow.batch_id, JobRow.batch_max_parallel).where(JobRow.job_id == job_id)
    ).first()
    if row is None or row.batch_id is None or row.batch_max_parallel is None:
        return
    stmt = select(JobRow.job_id).where(JobRow.batch_id == row.batch_id)
    s.execute(stmt.order_by(JobRow.job_id).with_for_update()).all()


def _apply(
    s: Session,
    job_id: str,
    cond: Sequence[Any],
    values: Columns,
    *,
    logs: Sequence[Entry] = (),
    then: Callable[[JobRecord], Sequence[Entry]] | None = None,
) -> JobRecord | None:
    """The conditional UPDATE of one job, its log lines, and the job as it is now."""
    if not affected(s.execute(update(JobRow).where(*cond).values(values))):
        return None
    write_logs(s, job_id, logs)
    row = s.get(JobRow, job_id, populate_existing=True)
    assert row is not None
    job = job_record(row)
    if then is not None:
        write_logs(s, job_id, then(job))
    return job


_COLUMNS = [c for c in JOBS.columns if c.name != "result"]
_GET = {  # built once: SQLAlchemy caches their compiled form
    with_result: select(*_COLUMNS, *([JOBS.c.result] if with_result else [])).where(
        JOBS.c.job_id == bindparam("job_id")
    )
    for with_result in (True, False)
}

SORTS = {"created_at": JobRow.created_at, "updated_at": JobRow.updated_at, "job_id": JobRow.job_id}


class JobStore(LogMixin, StatsMixin):
    """Jobs and their logs in SQLite (default) or PostgreSQL."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        migrate(self.engine)
        self.session = Writers(self.engine)
        self._group = GroupCommit(self._insert_batch)
        self.read_engine = read_engine(self.engine)
        self.reader = sessionmaker(self.read_engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- create and read ---------------------------------------------------
    def add(
        self, job: NewJob, *, status: JobStatus = JobStatus.SUBMITTED, log: bool = False
    ) -> JobRecord:
        """Insert a job (and its first log line); an existing job_id is a :class:`Conflict`.
        Concurrent calls share a transaction (group commit); each learns its own outcome."""
        values = _new_rows([job], status)[0]
        self._group.run((values, log))
        return job_record(JobRow(**values))

    def add_many(
        self,
        items: Sequence[NewJob],
        *,
        status: JobStatus = JobStatus.SUBMITTED,
        log: bool = False,
    ) -> Records:
        """Insert several jobs in one transaction: all of them or none. ``log``: with each,
        its first log line ("submitted to queue ...")."""
        ids = [item.job_id for item in items]
        dupes = {i for i in ids if ids.count(i) > 1}
        with self.reader() as s:
            dupes |= set(s.scalars(select(JobRow.job_id).where(JobRow.job_id.in_(ids))))
        if dupes:
            raise _taken(sorted(dupes), len(ids) > 1)
        values = _new_rows(items, status)
        try:
            self._insert([(v, log) for v in values])
        except IntegrityError as exc:
            raise self._refused(ids, exc) from None
        return [job_record(JobRow(**v)) for v in values]

    def _refused(self, ids: list[str], exc: IntegrityError) -> BaseException:
        """Why an insert of these ids failed: a :class:`Conflict` naming the ids taken
        meanwhile, else the database's own error (a required column left None)."""
        with self.reader() as s:
            taken = set(s.scalars(select(JobRow.job_id).where(JobRow.job_id.in_(ids))))
        return _taken(sorted(taken), len(ids) > 1) if taken else exc

    def _insert(self, rows: list[tuple[Columns, bool]]) -> None:
        with self.session.begin() as s:
            # table inserts: the ORM's unit of work (or bulk path) cost more than the statement
            s.execute(insert(JOBS), [v for v, _ in rows])
            lines = [(v["job_id"], [("INFO", "api", f"submitted to queue {v['queue']}")])
                     for v, log in rows if log]  # fmt: skip
            write_many_logs(s, lines)

    def _insert_batch(self, rows: list[tuple[Columns, bool]]) -> list[BaseException | None]:
        """All in one transaction; if an id is taken, each on its own (the others still go in)."""
        try:
            self._insert(rows)
            return [None] * len(rows)
        except IntegrityError as exc:
            if len(rows) == 1:
                return [self._refused([rows[0][0]["job_id"]], exc)]
        errors: list[BaseException | None] = []
        for row in rows:
            try:
                self._insert([row])
                errors.append(None)
            except IntegrityError as exc:
                errors.append(self._refused([row[0]["job_id"]], exc))
        return errors

    @overload
    def get(self, job_id: str, *, result: Literal[True] = True) -> JobRecord: ...

    @overload
    def get(self, job_id: str, *, result: bool) -> JobStatusView: ...

    def get(self, job_id: str, *, result: bool = True) -> JobStatusView:
        """One job; ``result=False`` leaves out ``result.json`` (status polls stay cheap).
        Core, not ORM: this is the hottest read of the API."""
        with self.read_engine.connect() as conn:
            row = conn.execute(_GET[result], {"job_id": job_id}).first()
        if row is None:
            raise JobNotFound(f"job {job_id} not found", field="job_id")
        return job_record(row) if result else job_view(row)

    def list(
        self,
        *,
        status: JobStatus | None = None,
        task_type: str | None = None,
        scorer: str | None = None,
        owner: str | None = None,
        sort: str = "created_at",
        order: str = "desc",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[Views, int]:
        where = [
            col == value
            for col, value in (
                (JobRow.status, status),
                (JobRow.task_type, task_type),
                (JobRow.scorer, scorer),
                (JobRow.owner, owner),
            )
            if value is not None
        ]
        key = SORTS[sort]
        ordering: Any = [key.desc() if order == "desc" else key.asc(), JobRow.job_id.asc()]
        with self.reader() as s:
            total = s.scalar(select(func.count()).select_from(JobRow).where(*where)) or 0
            stmt = select(JobRow).where(*where).options(defer(JobRow.result))
            rows = s.scalars(stmt.order_by(*ordering).limit(limit).offset(offset))
            return [job_view(r) for r in rows], total

    def ids_with_status(self, statuses: Iterable[JobStatus], queue: str | None = None) -> Ids:
        """Job ids in these states, oldest first (restart recovery, reaping)."""
        where: Any = [JobRow.status.in_(list(statuses))]
        if queue is not None:
            where.append(JobRow.queue == queue)
        with self.reader() as s:
            return list(s.scalars(select(JobRow.job_id).where(*where).order_by(JobRow.created_at)))

    # -- transitions -------------------------------------------------------
    def transition(
        self, job_id: str, to: JobStatus, *, allowed_from: Iterable[JobStatus], **fields: Any
    ) -> JobRecord | None:
        """Move a job to ``to`` only if it is in ``allowed_from``; None when it was not."""
        values = {"status": to, "updated_at": now(), **fields}
        cond = [JobRow.job_id == job_id, JobRow.status.in_(list(allowed_from))]
        return self._update(job_id, cond, values)

    def claim(self, job_id: str, worker_id: str, lease_seconds: float) -> JobRecord | None:
        """Take a queued job (or one whose lease ran out) to run it; None if someone else has it.
        Its "started on <worker> (attempt n)" line is written in the same transaction."""

        def started(job: JobRecord) -> list[Entry]:
            return [("INFO", "worker", f"started on {worker_id} (attempt {job.attempts})")]

        with self.session.begin() as s:
            _lock_batch(s, job_id)
            # stamped after the lock: a batch's previous job has committed its end by now
            stamp = now()
            cond = [
                JobRow.job_id == job_id,
                (JobRow.status.in_(WAITING))
                | ((JobRow.status == RUNNING) & (JobRow.lease_until < stamp)),
                JobRow.batch_max_parallel.is_(None)
                | (_running_in_batch() < JobRow.batch_max_parallel),
            ]
            values = {
                "status": RUNNING,
                "worker_id": worker_id,
                "lease_until": stamp + timedelta(seconds=lease_seconds),
                "started_at": stamp,
                "updated_at": stamp,
                "attempts": JobRow.attempts + 1,
                "stage": "starting",
            }
            return _apply(s, job_id, cond, values, then=started)

    def heartbeat(
        self,
        job_id: str,
        worker_id: str,
        lease_seconds: float,
        *,
        logs: Sequence[Entry] = (),
        **fields: Any,
    ) -> JobStatus | None:
        """Renew the lease, write progress and log lines; returns the job's status, None if
        it is no longer ours."""
        stamp = now()
        values = {"lease_until": stamp + timedelta(seconds=lease_seconds), "updated_at": stamp}
        values.update(fields)
        cond = [JobRow.job_id == job_id, JobRow.worker_id == worker_id]
        with self.session.begin() as s:
            write_logs(s, job_id, logs)
            done = s.execute(update(JobRow).where(*cond, JobRow.status == RUNNING).values(values))
            if affected(done):
                return RUNNING
            status = s.scalar(select(JobRow.status).where(*cond))
            return None if status is None else JobStatus(status)

    def finish(
        self,
        job_id: str,
        worker_id: str,
        to: JobStatus,
        *,
        logs: Sequence[Entry] = (),
        **fields: Any,
    ) -> JobRecord | None:
        """End a running job this worker holds (writing its last log lines with it);
        None when it was cancelled or lost meanwhile (the lines are written anyway)."""
        values = {"status": to, "updated_at": now(), "lease_until": None, **fields}
        cond = [JobRow.job_id == job_id, JobRow.worker_id == worker_id, JobRow.status == RUNNING]
        done = self._update(job_id, cond, values, logs=logs)
        if done is None:
            self.add_logs(job_id, logs)
        return done

    def release(self, job_id: str, to: JobStatus, at: datetime, **fields: Any) -> JobRecord | None:
        """Take a running job whose lease ended before ``at`` away from its vanished worker."""
        values = {"status": to, "updated_at": now(), "lease_until": None, **fields}
        cond = [JobRow.job_id == job_id, JobRow.status == RUNNING, JobRow.lease_until < at]
        return self._update(job_id, cond, values)

    def expired(self, at: datetime | None = None) -> Records:
        """Running jobs whose lease ran out: their worker is gone."""
        stamp = at or now()
        with self.reader() as s:
            rows = s.scalars(
                select(JobRow).where(JobRow.status == RUNNING, JobRow.lease_until < stamp)
            )
            return [job_record(r) for r in rows]

    def _update(
        self,
        job_id: str,
        cond: Sequence[Any],
        values: Columns,
        *,
        logs: Sequence[Entry] = (),
    ) -> JobRecord | None:
        with self.session.begin() as s:
            return _apply(s, job_id, cond, values, logs=logs)
