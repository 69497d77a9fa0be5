"""Faults with real processes: a Celery worker killed mid-job, an in-process service
killed mid-queue, 1,000 submissions from 8 concurrent clients, and a message that is
delivered twice. The rule each checks: no job is lost, none runs twice, none stays
``running``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.jobs.conftest import start_backend, stop_backend
from tests.jobs.helpers import (
    LEASE_SECONDS,
    REPO,
    TERMINAL,
    Brokers,
    kill_sandboxes,
    sandbox_processes,
    score_workspace,
    sleeper_workspace,
    wait_all_terminal,
    wait_for,
    wait_terminal,
)

from autoscorer.jobs.factory import build_service
from autoscorer.jobs.models import JobLogRow, JobRow
from autoscorer.jobs.records import JobSubmission
from autoscorer.jobs.runner import JobRunner, Outcome
from autoscorer.jobs.service import prepare
from autoscorer.jobs.store import JobStore
from autoscorer.settings import Settings

SERVICE_PROC = Path(__file__).with_name("service_proc.py")
REGRESSION = REPO / "examples" / "regression"


def _proc_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    return env


def _pid_of(worker_id: str) -> int:
    """``celery@host:PID:xxxxxx`` -> PID."""
    return int(worker_id.rsplit(":", 2)[1])


def _started_lines(store: JobStore, ids: list[str] | None = None) -> Counter[str]:
    """How many times each job was started (its ``started on`` log lines)."""
    stmt = select(JobLogRow.job_id, func.count()).where(
        JobLogRow.component == "worker", JobLogRow.message.like("started on %")
    )
    if ids is not None:
        stmt = stmt.where(JobLogRow.job_id.in_(ids))
    with store.session() as s:
        return Counter(dict(s.execute(stmt.group_by(JobLogRow.job_id)).all()))


# -- (a) a Celery worker killed with SIGKILL mid-job -------------------------------------
@pytest.mark.celery
@pytest.mark.parametrize(
    ("broker", "kind"),
    [
        pytest.param("redis", "sqlite", id="redis-sqlite"),
        pytest.param(
            "rabbitmq", "postgresql", id="rabbitmq-postgresql", marks=pytest.mark.postgres
        ),
    ],
)
def test_killed_celery_worker_job_finishes_elsewhere(
    broker: str, kind: str, database_factory: Any, brokers: Brokers, tmp_path: Path
) -> None:
    b = start_backend(
        broker,
        kind,
        database_url=database_factory(kind),
        root=tmp_path,
        brokers=brokers,
        workers=2,
        pool="solo",
        concurrency=1,
    )
    ws, marker = sleeper_workspace(tmp_path, 4)
    try:
        job_id = b.service.submit(b.job(ws)).job_id

        def in_sandbox() -> dict[str, Any] | None:
            job = b.service.get(job_id)
            running = job.status == "running" and job.stage == "inference"
            return job if running and sandbox_processes(marker) else None

        job = wait_for(in_sandbox, 30, "the job to run its sandbox")
        victim = next(w for w in b.workers if w.pid == _pid_of(job.worker_id))
        survivor = next(w for w in b.workers if w is not victim)
        victim.kill9()
        killed_at = time.monotonic()
        # the sandbox dies with its worker (bwrap --die-with-parent)
        wait_for(lambda: not sandbox_processes(marker), 5, "the killed worker's sandbox to go")
        seen = set()
        deadline = killed_at + 60
        while (status := b.service.get(job_id).status) not in TERMINAL:
            seen.add(status)
            assert time.monotonic() < deadline, f"job still {status} 60 s after the kill"
            time.sleep(0.1)
        done = b.service.get(job_id)
        if done.status == "completed":
            assert _pid_of(done.worker_id) == survivor.pid
            assert done.attempts == 2
            assert done.score == pytest.approx(0.8991212034315483)
        else:  # the other allowed end: given up as lost
            assert done.status == "failed" and done.error["code"] == "WORKER_LOST"
        # it went back to the queue (reaper) or straight to the survivor (broker redelivery)
        assert seen <= {"running", "queued"}
        time.sleep(1.5)  # duplicate messages (redelivery + requeue) change nothing
        assert b.service.get(job_id).status == done.status
        assert _started_lines(b.service.store, [job_id])[job_id] == done.attempts
    finally:
        kill_sandboxes(marker)
        stop_backend(b)


# -- (b) an in-process service killed with SIGKILL mid-queue, then restarted --------------
def test_inprocess_service_killed_mid_queue_recovers_every_job(
    database_factory: Any, tmp_path: Path
) -> None:
    db = database_factory("sqlite")
    sleeper, marker = sleeper_workspace(tmp_path, 2)
    spaces = [score_workspace(tmp_path) for _ in range(4)]
    proc = subprocess.Popen(
        [sys.executable, str(SERVICE_PROC), "restart", db, str(tmp_path), str(sleeper), "20"]
        + [str(ws) for ws in spaces],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_proc_env(),
        cwd=str(tmp_path),
    )
    svc = None
    try:
        assert proc.stdout is not None
        submitted = json.loads(proc.stdout.readline() or "{}")
        assert submitted, proc.stderr.read() if proc.stderr else ""
        ids = [submitted["sleeper"], *submitted["jobs"]]
        watch = JobStore(db)
        wait_for(
            lambda: watch.get(submitted["sleeper"]).stage == "inference",
            30,
            "the sleeper to run",
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        at_kill = {i: watch.get(i).status for i in ids}
        watch.close()
        assert at_kill[submitted["sleeper"]] == "running"
        assert any(s == "queued" for s in at_kill.values()), at_kill  # really mid-queue
        wait_for(lambda: not sandbox_processes(marker), 5, "the dead service's sandbox to go")

        settings = Settings(
            database_url=db,
            executor="local",
            queue_concurrency=1,
            job_lease_seconds=LEASE_SECONDS,
            reaper_interval=1.0,
            workspace_roots=[str(tmp_path)],
        )
        svc = build_service(settings)  # re-delivers queued jobs; the reaper takes the rest
        final = {j.job_id: j for j in wait_all_terminal(svc, ids, timeout=60)}
        assert {j.status for j in final.values()} == {"completed"}, {
            i: j.error for i, j in final.items() if j.error
        }
        assert final[submitted["sleeper"]].attempts == 2  # its first run died with the service
        for job_id, status in at_kill.items():
            if status == "queued":
                assert final[job_id].attempts == 1
        assert _started_lines(svc.store, ids) == {i: final[i].attempts for i in ids}
        assert svc.counts()["running"] == 0 and svc.list(limit=100)[1] == 21
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if svc is not None:
            svc.close()
        kill_sandboxes(marker)


# -- (c) 1,000 submissions from 8 concurrent clients ----------------------------------------
@pytest.mark.slow  # about 50-60 s on 2 cores: ~80 ms of CPU per job, GIL per process
def test_a_thousand_submissions_from_eight_clients(database_factory: Any, tmp_path: Path) -> None:
    """8 processes, each its own service on one SQLite file, submit 125 jobs each at the
    same moment (and run them: every service also re-delivers the others' queued jobs
    when it starts, so many jobs are delivered twice). The services use the default
    30 s lease: with a 3 s lease, 8 processes on one SQLite file starve heartbeats
    for longer than the lease, and a few jobs are (correctly) reaped and run again."""
    db = database_factory("sqlite")
    JobStore(db).close()  # the schema exists before the clients race
    clients, each = 8, 125
    spaces = []
    for k in range(clients):  # a tiny score-only workspace per client (RMSE, no artifacts)
        shutil.copytree(REGRESSION, tmp_path / f"client{k}")
        spaces.append(tmp_path / f"client{k}")
    start_at = time.time() + 4.0  # after every interpreter has imported and built its service
    started = time.monotonic()
    client_argv = [sys.executable, str(SERVICE_PROC), "client", db, str(tmp_path)]
    procs = [
        subprocess.Popen(
            [*client_argv, str(ws), str(each), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_proc_env(),
            cwd=str(tmp_path),
        )
        for ws in spaces
    ]
    try:
        outs = [p.communicate(timeout=200) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    elapsed = time.monotonic() - started
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    ids = [i for out, _ in outs for i in json.loads(out.strip().splitlines()[-1])]
    assert len(ids) == clients * each and len(set(ids)) == len(ids)
    store = JobStore(db)
    try:
        rows, total = store.list(limit=2000)
        assert total == len(rows) == 1000 and {r.job_id for r in rows} == set(ids)
        assert Counter(r.status for r in rows) == {"completed": 1000}
        assert {r.attempts for r in rows} == {1}  # delivered twice, run once
        assert _started_lines(store) == dict.fromkeys(ids, 1)
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(JobRow)) == 1000
    finally:
        store.close()
    assert elapsed < 180, f"1,000 jobs took {elapsed:.0f} s"


# -- (d) one message delivered twice --------------------------------------------------------
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_message_delivered_twice_runs_once(
    kind: str, database_factory: Any, tmp_path: Path
) -> None:
    db = database_factory(kind)
    stores = [JobStore(db), JobStore(db)]  # two workers: separate engines, like two processes
    runners = [JobRunner(s, f"twin-{k}", lease_seconds=LEASE_SECONDS) for k, s in enumerate(stores)]
    sleeper, marker = sleeper_workspace(tmp_path, 1)
    jobs = [
        prepare(JobSubmission(workspace_path=str(score_workspace(tmp_path))), "local")
        for _ in range(6)
    ]
    jobs.append(prepare(JobSubmission(workspace_path=str(sleeper)), "local"))
    try:
        for job in jobs:
            job_id = stores[0].add(job).job_id
            stores[0].transition(job_id, "queued", allowed_from=["submitted"])
            outcomes: list[Outcome] = []
            barrier = threading.Barrier(2)

            def deliver(
                r: JobRunner,
                job_id: str = job_id,
                barrier: threading.Barrier = barrier,
                outcomes: list[Outcome] = outcomes,
            ) -> None:
                barrier.wait()
                outcomes.append(r.run(job_id))

            threads = [threading.Thread(target=deliver, args=(r,)) for r in runners]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert Counter(outcomes)[Outcome.DONE] == 1, outcomes
            done = wait_terminal(stores[1], job_id)
            assert done.status == "completed" and done.attempts == 1, done.error
            assert runners[0].run(job_id) is Outcome.SKIPPED  # a late third delivery
            assert _started_lines(stores[0], [job_id]) == {job_id: 1}
        # the sleeper was still running when the second delivery came: that one was BUSY
        assert outcomes.count(Outcome.BUSY) == 1
    finally:
        kill_sandboxes(marker)
        for s in stores:
            s.close()
