"""The reaper publishes a job again when it stays ``queued`` past ``requeue_after`` with no
worker taking it (its broker message was lost), and the job still runs exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from tests.jobs.conftest import start_backend, stop_backend
from tests.jobs.helpers import (
    REDIS_URL,
    Brokers,
    Worker,
    kill_sandboxes,
    score_workspace,
    sleeper_workspace,
    wait_for,
    wait_terminal,
)
from tests.jobs.test_faults import _started_lines

from autoscorer.jobs.reaper import Reaper
from autoscorer.jobs.records import NewJob
from autoscorer.jobs.service import prepare
from autoscorer.jobs.store import JobStore

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
AGAIN = "published it again"


def _republished(store: JobStore, job_id: str) -> int:
    return sum(AGAIN in line.message for line in store.logs(job_id)[0])


@pytest.mark.parametrize("kind", KINDS)
def test_a_queued_job_whose_message_was_lost_is_run_by_the_reaper(
    kind: str, database_factory: Any, brokers: Brokers, tmp_path: Path
) -> None:
    b = start_backend("inprocess", kind, database_url=database_factory(kind), root=tmp_path,
                      brokers=brokers, requeue_after=1.0)  # fmt: skip
    try:
        job = prepare(b.job(score_workspace(tmp_path)), "local")
        job_id = b.service.store.add(job, status="queued", log=True).job_id  # never enqueued
        done = wait_terminal(b.service, job_id, 30)
        assert done.status == "completed" and done.attempts == 1
        assert _republished(b.service.store, job_id) == 1
        assert _started_lines(b.service.store, [job_id]) == {job_id: 1}
    finally:
        stop_backend(b)


def test_a_job_republished_while_its_message_waits_still_runs_once(
    database_factory: Any, brokers: Brokers, tmp_path: Path
) -> None:
    b = start_backend("inprocess", "sqlite", database_url=database_factory("sqlite"),
                      root=tmp_path, brokers=brokers, concurrency=1, requeue_after=0.5)  # fmt: skip
    sleeper, marker = sleeper_workspace(tmp_path, 3)
    try:
        b.service.submit(b.job(sleeper))  # holds the lane's only thread for 3 s
        job_id = b.service.submit(b.job(score_workspace(tmp_path))).job_id  # behind it
        wait_for(lambda: _republished(b.service.store, job_id), 10, "the re-publish")
        done = wait_terminal(b.service, job_id, 30)
        assert done.status == "completed" and done.attempts == 1
        # two messages (the original and the re-published one), one run
        assert _started_lines(b.service.store, [job_id]) == {job_id: 1}
    finally:
        kill_sandboxes(marker)
        stop_backend(b)


@pytest.mark.parametrize("kind", KINDS)
def test_several_reapers_republish_a_job_once_per_period(kind: str, database_factory: Any) -> None:
    db = database_factory(kind)
    stores = [JobStore(db) for _ in range(3)]
    sent: list[str] = []
    reapers = [Reaper(s, lambda job: sent.append(job.job_id), requeue_after=0.3)
               for s in stores]  # fmt: skip
    try:
        job = NewJob(job_id="stale", workspace_path="/w", executor="local", queue="score")
        stores[0].add(job, status="queued")
        assert [r.republish() for r in reapers] == [[], [], []]  # not stale yet
        wait_for(lambda: reapers[0].republish() or reapers[1].republish(), 5, "a re-publish")
        assert sent == ["stale"] and reapers[2].republish() == []  # the others see it fresh
        stores[0].claim("stale", "w1", 30)
        time.sleep(0.4)  # older than requeue_after, but running
        assert all(r.republish() == [] for r in reapers)  # a claimed job is never re-published
    finally:
        for s in stores:
            s.close()


@pytest.mark.celery
def test_a_message_deleted_from_redis_is_published_again(
    database_factory: Any, brokers: Brokers, tmp_path: Path
) -> None:
    import redis

    db = database_factory("sqlite")
    b = start_backend("redis", "sqlite", database_url=db, root=tmp_path, brokers=brokers,
                      workers=0, requeue_after=2.0)  # fmt: skip
    try:
        job_id = b.service.submit(b.job(score_workspace(tmp_path))).job_id
        client = redis.Redis.from_url(REDIS_URL)
        lost = [k for k in client.keys(f"{b.lane}*") if client.type(k) == b"list"]
        assert lost and client.delete(*lost) == len(lost)  # the broker lost the message
        client.close()
        worker = Worker(tmp_path, db, REDIS_URL, b.lane)
        b.workers.append(worker)
        worker.wait_ready(b.service.queue.app)  # type: ignore[attr-defined]
        done = wait_terminal(b.service, job_id, 60)
        assert done.status == "completed" and done.attempts == 1
        assert _republished(b.service.store, job_id) >= 1
        assert _started_lines(b.service.store, [job_id]) == {job_id: 1}
    finally:
        stop_backend(b)
